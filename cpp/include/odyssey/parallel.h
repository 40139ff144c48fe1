// The thread pool and a deterministic parallel-for.
#pragma once

#include <cstddef>
#include <functional>

namespace odyssey {

// ODYSSEY_NUM_THREADS when set (anything but a positive integer throws std::invalid_argument),
// else the cores this process may run on.
int default_num_threads();

int num_threads();
// n >= 1 (else std::invalid_argument). Must not be called from inside a parallel_for body.
void set_num_threads(int n);

inline std::size_t num_chunks(std::size_t n, std::size_t grain) { return (n + grain - 1) / grain; }

// Calls body(begin, end) for every chunk [i * grain, min(n, (i + 1) * grain)) of [0, n), spread
// over the pool with the calling thread taking part, and returns when all are done. The chunk
// boundaries depend on n and grain only, never on the thread count, so a reduction that keeps one
// partial per chunk and combines them in order gives the same bits for 1 or N threads. A nested
// call, or one made while another thread holds the pool, runs its chunks serially. The first
// exception thrown by body is rethrown here once every running chunk has finished.
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body);

}  // namespace odyssey
