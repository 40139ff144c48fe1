// The floating-point control state of a thread (x86's MXCSR control bits, AArch64's FPCR): the
// rounding mode and whether subnormal floats are flushed to zero. It is per thread, and it changes
// results, so parallel_for runs every chunk under the calling thread's state: a library that sets
// flush-to-zero on the caller (torch.set_flush_denormal does) cannot make the bits depend on how
// many threads shared the work.
#pragma once

#include <cstdint>

namespace odyssey {

// The calling thread's control bits (the sticky exception flags excluded); 0 where there are none.
std::uint64_t float_controls();

// Sets the calling thread's control bits to a value read by float_controls().
void set_float_controls(std::uint64_t controls);

// Flushes subnormal inputs and results to zero on the calling thread (x86: FTZ and DAZ; AArch64:
// FZ), or stops; kernels it calls, on any thread of the pool, follow it. False, changing nothing,
// where the CPU has no such mode. As torch.set_flush_denormal.
bool set_flush_denormal(bool flush);

}  // namespace odyssey
