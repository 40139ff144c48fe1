// Elementwise kernels and the sum reduction.
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's implementation over a contiguous range. Pointers need only float alignment; `out` may
// be the same array as an input, but must not partially overlap one.
struct EltwiseKernels {
  void (*add)(const float* a, const float* b, float* out, std::size_t n);
  void (*mul)(const float* a, const float* b, float* out, std::size_t n);
  // out = 0 > x ? 0 : x, so NaN propagates and -0.0 stays -0.0 on every ISA.
  void (*relu)(const float* x, float* out, std::size_t n);
  // Returned in double so that partial sums of chunks combine without another float rounding.
  // Which additions happen in which order depends on n alone, never on x's address.
  double (*sum)(const float* x, std::size_t n);
};

namespace scalar {
extern const EltwiseKernels kEltwise;
}
namespace avx2 {
extern const EltwiseKernels kEltwise;
}
namespace avx512 {
extern const EltwiseKernels kEltwise;
}
namespace neon {
extern const EltwiseKernels kEltwise;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const EltwiseKernels* eltwise_kernels(Isa isa);
inline const EltwiseKernels& eltwise_kernels() { return *eltwise_kernels(selected_isa()); }

// Elements per parallel chunk. Fixed, so chunk boundaries never depend on the thread count.
inline constexpr std::size_t kEltwiseGrain = std::size_t{1} << 15;

// Whole-array operations: the selected ISA, split over the thread pool.
void add(const float* a, const float* b, float* out, std::size_t n);
void mul(const float* a, const float* b, float* out, std::size_t n);
void relu(const float* x, float* out, std::size_t n);
// Chunk partials are combined in chunk order, so the bits are the same for every thread count and
// every address of x.
float sum(const float* x, std::size_t n);

}  // namespace odyssey
