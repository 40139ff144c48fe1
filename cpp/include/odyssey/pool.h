// 2-D max and average pooling over NCHW planes, any window and stride, no padding, floor mode (the
// defaults of PyTorch's max_pool2d and avg_pool2d).
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's kernels for the common window, 2x2 with stride 2, over `rows` output rows of a plane:
// output row r comes from input rows top + 2 r in_w and the one below it, and top_index is the
// plane index of top[0]. y, argmax and dy hold out_w values a row.
struct PoolKernels {
  // Max pooling: ties keep the first in (top-left, top-right, bottom-left, bottom-right) order and
  // the last NaN wins; with `relu`, dead outputs are +0 with argmax -1; as in max_pool2d_forward.
  void (*max_2x2_rows)(const float* top, std::size_t in_w, std::size_t out_w, std::size_t rows,
                       std::int32_t top_index, bool relu, float* y, std::int32_t* argmax);
  // Its gradient: columns [0, 2 * out_w) of the input rows, each 0 + dy of its window where argmax
  // names it (0 + turns a -0 into +0, as adding into a cleared row does), else 0.
  void (*max_2x2_backward_rows)(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                                std::size_t rows, std::int32_t top_index, std::size_t in_w,
                                float* top);
};

namespace scalar {
extern const PoolKernels kPool;
}
namespace avx2 {
extern const PoolKernels kPool;
}
namespace avx512 {
extern const PoolKernels kPool;
}
namespace neon {
extern const PoolKernels kPool;
}

const PoolKernels* pool_kernels(Isa isa);
inline const PoolKernels& pool_kernels() { return *pool_kernels(selected_isa()); }

struct Pool2dShape {
  std::size_t planes;  // batch * channels
  std::size_t in_h, in_w, kernel_h, kernel_w, stride_h, stride_w;

  // The caller guarantees stride >= 1 and a window that fits the input.
  std::size_t out_h() const { return (in_h - kernel_h) / stride_h + 1; }
  std::size_t out_w() const { return (in_w - kernel_w) / stride_w + 1; }
};

// Planes per parallel chunk; planes are independent, so any split gives the same bits.
inline constexpr std::size_t kPoolGrain = 16;

// Windows that never overlap (stride >= kernel on both axes; LeNet's and most CNNs' pools): then
// each input element has at most one window, so the backward passes write every dx element once,
// with no clearing pass and no scatter.
inline bool windows_disjoint(const Pool2dShape& s) {
  return s.stride_h >= s.kernel_h && s.stride_w >= s.kernel_w;
}

// y = the window maxima; argmax = each maximum's index i * in_w + j in its input plane. Ties keep
// the first in row-major order and a NaN wins (the last NaN of a window), as in PyTorch. With
// `relu`, y = relu(maximum) (max_pool2d(relu(x)) in one pass: relu commutes with the maximum), and
// argmax is -1 where y is not > 0, where relu's derivative stops the gradient.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax,
                        bool relu = false);
// dx = each plane's dy added at its argmax in the plane of dx, zero elsewhere; an argmax of -1 adds
// nothing. Disjoint windows: every dx element is written once (0 + dy, or 0), and an argmax
// outside its own window adds nothing. Overlapping windows: dx is cleared, then dy is added in
// output order; the caller guarantees -1 <= argmax < in_h * in_w.
void max_pool2d_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                         float* dx);
// y = the window means.
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
// dx = dy / window size, spread over each window (added where windows overlap).
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);

}  // namespace odyssey
