// The thread pool and a deterministic parallel-for.
#pragma once

#include <cstddef>
#include <functional>

namespace odyssey {

// A sanity bound on thread counts; what the system can actually start is found by starting them.
constexpr int kMaxThreads = 4096;

// ODYSSEY_NUM_THREADS when set (anything but an integer from 1 to kMaxThreads throws
// std::invalid_argument), else the cores this process may run on.
int default_num_threads();

// The thread count in effect. A count from ODYSSEY_NUM_THREADS or the default is started by the
// first parallel_for; if the system cannot start all of it, that call throws std::runtime_error
// and the count drops to the threads that did start.
int num_threads();

// Starts n threads now (1 <= n <= kMaxThreads, else std::invalid_argument). When the system
// refuses some of them, throws std::runtime_error saying how many could start and why, and the
// previous count stays in effect, its workers untouched. Must not be called from inside a
// parallel_for body (std::logic_error).
void set_num_threads(int n);

inline std::size_t num_chunks(std::size_t n, std::size_t grain) { return (n + grain - 1) / grain; }

// Calls body(begin, end) for every chunk [i * grain, min(n, (i + 1) * grain)) of [0, n), spread
// over the pool with the calling thread taking part, and returns when all are done. The chunk
// boundaries depend on n and grain only, never on the thread count, so a reduction that keeps one
// partial per chunk and combines them in order gives the same bits for 1 or N threads. A nested
// call, or one made while another thread holds the pool, runs its chunks serially. The first
// exception thrown by body is rethrown here once every running chunk has finished. Every chunk
// runs under the calling thread's floating-point controls (odyssey/float_controls.h).
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body);

}  // namespace odyssey
