// 2-D max and average pooling over NCHW planes with PyTorch's geometry (window, stride, padding,
// dilation, ceil_mode) and adaptive pooling.
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
  // the last NaN wins; with `relu`, dead outputs are relu(top-left) with argmax -1; as in
  // max_pool2d_forward.
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

// The number of windows along one axis, PyTorch's rule: floor (or, in ceil mode, ceil) of
// (in + 2 pad - dilation (kernel - 1) - 1) / stride, plus 1, where in ceil mode the last window
// must start inside the input or its left padding. 0 when no window fits.
inline std::size_t pooled_size(std::size_t in, std::size_t kernel, std::size_t stride,
                               std::size_t pad, std::size_t dilation, bool ceil_mode) {
  const auto step = static_cast<std::ptrdiff_t>(stride);
  const std::ptrdiff_t span = static_cast<std::ptrdiff_t>(in + 2 * pad) -
                              static_cast<std::ptrdiff_t>(dilation * (kernel - 1) + 1) +
                              (ceil_mode ? step - 1 : 0);
  std::ptrdiff_t last = span >= 0 ? span / step : -((-span + step - 1) / step);
  if (ceil_mode && last * step >= static_cast<std::ptrdiff_t>(in + pad)) --last;
  return last < 0 ? 0 : static_cast<std::size_t>(last) + 1;
}

struct Pool2dShape {
  std::size_t planes;  // batch * channels
  std::size_t in_h, in_w, kernel_h, kernel_w, stride_h, stride_w;
  // Implicit padding on both sides of each axis (the maximum ignores it; the average counts it
  // or not), the spacing of a window's taps (max pooling only), PyTorch's ceil_mode.
  std::size_t pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  bool ceil_mode = false;

  // The caller guarantees stride >= 1, dilation >= 1 and at least one window on each axis.
  std::size_t out_h() const {
    return pooled_size(in_h, kernel_h, stride_h, pad_h, dilation_h, ceil_mode);
  }
  std::size_t out_w() const {
    return pooled_size(in_w, kernel_w, stride_w, pad_w, dilation_w, ceil_mode);
  }
};

// Planes per parallel chunk; planes are independent, so any split gives the same bits.
inline constexpr std::size_t kPoolGrain = 16;

// No padding, no dilation, and every window inside the input (ceil mode can add a last window
// that hangs over the edge): the geometry of the fast paths.
inline bool windows_plain(const Pool2dShape& s) {
  return s.pad_h == 0 && s.pad_w == 0 && s.dilation_h == 1 && s.dilation_w == 1 &&
         (s.out_h() - 1) * s.stride_h + s.kernel_h <= s.in_h &&
         (s.out_w() - 1) * s.stride_w + s.kernel_w <= s.in_w;
}

// Plain windows that never overlap (stride >= kernel on both axes; LeNet's and most CNNs' pools):
// then each input element has at most one window, so the backward passes write every dx element
// once, with no clearing pass and no scatter.
inline bool windows_disjoint(const Pool2dShape& s) {
  return windows_plain(s) && s.stride_h >= s.kernel_h && s.stride_w >= s.kernel_w;
}

// y = the window maxima over the taps inside the input; argmax = each maximum's index i * in_w + j
// in its input plane. Ties keep the first in row-major order and a NaN wins (the last NaN of a
// window), as in PyTorch. A window with no tap inside the input (possible only with dilation) gives
// -inf with argmax -1. With `relu`, y = max_pool2d(relu(x)) bit for bit in one pass (relu commutes
// with the maximum), and argmax is -1 where y is not > 0, where relu's derivative stops the
// gradient. A dead window (nothing > 0, no NaN) gives relu of its first tap inside the input, the
// first of the relu'd zeros: -0.0 where that tap is -0.0; a window with no tap stays -inf.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax,
                        bool relu = false);
// dx = each plane's dy added at its argmax in the plane of dx, zero elsewhere; an argmax of -1 adds
// nothing. Disjoint windows: every dx element is written once (0 + dy, or 0), and an argmax
// outside its own window adds nothing. Otherwise dx is cleared, then dy is added in output order;
// the caller guarantees -1 <= argmax < in_h * in_w.
void max_pool2d_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                         float* dx);

// The divisor of an average: divisor_override when it is not 0, else the window's size clipped
// to the padded input (count_include_pad) or its number of taps inside the input, as in PyTorch.
struct AvgDivisor {
  bool count_include_pad = true;
  std::int64_t divisor_override = 0;
};

// y = each window's sum over its taps inside the input, in row-major order, over its divisor (a
// window with no tap inside the input gives 0, as in PyTorch). The caller guarantees dilation 1.
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y, AvgDivisor divisor = {});
// dx = dy / divisor spread over each window's taps inside the input (added where windows overlap).
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx, AvgDivisor divisor = {});

// Adaptive pooling: output (i, j) pools input rows [floor(i in_h / out_h), ceil((i + 1) in_h /
// out_h)) and the columns likewise, PyTorch's windows.
struct AdaptivePool2dShape {
  std::size_t planes, in_h, in_w, out_h, out_w;
};

// Window means (row-major sums over the window size) and their gradient.
void adaptive_avg_pool2d_forward(const AdaptivePool2dShape& s, const float* x, float* y);
void adaptive_avg_pool2d_backward(const AdaptivePool2dShape& s, const float* dy, float* dx);
// Window maxima and their plane indices, ties and NaNs as max_pool2d_forward.
void adaptive_max_pool2d_forward(const AdaptivePool2dShape& s, const float* x, float* y,
                                 std::int32_t* argmax);
// dx = dy added at argmax over cleared planes of in_size elements, each plane's out_size
// gradients in order; an argmax of -1 adds nothing. The caller guarantees -1 <= argmax < in_size.
void max_pool_scatter(std::size_t planes, std::size_t in_size, std::size_t out_size,
                      const float* dy, const std::int32_t* argmax, float* dx);

}  // namespace odyssey
