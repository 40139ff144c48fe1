// Softmax, log-softmax and the fused softmax-cross-entropy over the last axis of a (rows, cols)
// row-major float32 array.
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's building blocks over one row of n elements. Pointers need only float alignment; an
// output may be the same array as an input, but must not partially overlap one.
struct SoftmaxKernels {
  // The largest element (n >= 1); which NaN wins is unspecified, any NaN makes the row NaN anyway.
  float (*max)(const float* x, std::size_t n);
  // out = exp(x - shift) when out is not null; returns the sum of exp(x - shift).
  double (*exp_sum)(const float* x, float shift, float* out, std::size_t n);
  // out = x * s
  void (*scale)(const float* x, float s, float* out, std::size_t n);
  // out = (x - a) - b
  void (*subtract2)(const float* x, float a, float b, float* out, std::size_t n);
  double (*dot)(const float* a, const float* b, std::size_t n);
  double (*sum)(const float* x, std::size_t n);
  // grad_x = y * (grad_y - dot), dot = sum(grad_y * y) over the row.
  void (*softmax_backward)(const float* grad_y, const float* y, float dot, float* grad_x,
                           std::size_t n);
  // grad_x = grad_y - exp(y) * sum, sum = sum(grad_y) over the row.
  void (*log_softmax_backward)(const float* grad_y, const float* y, float sum, float* grad_x,
                               std::size_t n);
};

namespace scalar {
extern const SoftmaxKernels kSoftmax;
}
namespace avx2 {
extern const SoftmaxKernels kSoftmax;
}
namespace avx512 {
extern const SoftmaxKernels kSoftmax;
}
namespace neon {
extern const SoftmaxKernels kSoftmax;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const SoftmaxKernels* softmax_kernels(Isa isa);
inline const SoftmaxKernels& softmax_kernels() { return *softmax_kernels(selected_isa()); }

// Elements per parallel chunk of rows (at least one row): fixed, so chunk boundaries depend on the
// shape alone.
inline constexpr std::size_t kSoftmaxGrain = std::size_t{1} << 14;

// Whole-array operations over rows in parallel chunks. Each row is independent, so the bits do not
// depend on the thread count. Outputs may be the same array as an input.
void softmax(const float* x, float* y, std::size_t rows, std::size_t cols);
void softmax_backward(const float* grad_y, const float* y, float* grad_x, std::size_t rows,
                      std::size_t cols);
void log_softmax(const float* x, float* y, std::size_t rows, std::size_t cols);
void log_softmax_backward(const float* grad_y, const float* y, float* grad_x, std::size_t rows,
                          std::size_t cols);

// probs = softmax(logits); returns the mean over rows of -log softmax(logits)[row, label], each
// row's loss computed as log(sum exp(x - max)) - (x[label] - max) and the mean accumulated in
// double in row order. Labels must be in [0, cols) (the caller checks; a row with a label outside
// gives NaN rather than an access out of bounds). NaN for rows == 0.
double softmax_cross_entropy(const float* logits, const std::int64_t* labels, float* probs,
                             std::size_t rows, std::size_t cols);
// grad = (probs - onehot(labels)) * scale; grad may be probs itself. A row whose label is outside
// [0, cols) is set to NaN.
void softmax_cross_entropy_backward(const float* probs, const std::int64_t* labels, float scale,
                                    float* grad, std::size_t rows, std::size_t cols);

}  // namespace odyssey
