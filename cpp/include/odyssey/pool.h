// 2-D max and average pooling over NCHW planes, any window and stride, no padding, floor mode (the
// defaults of PyTorch's max_pool2d and avg_pool2d).
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's kernel for the common window, 2x2 with stride 2: one output row of max pooling from
// input rows `top` and `top + in_w`, with `top_index` the plane index of top[0]. Ties keep the
// first in (top-left, top-right, bottom-left, bottom-right) order and the last NaN wins, as in
// max_pool2d_forward.
struct PoolKernels {
  void (*max_2x2_row)(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                      float* y, std::int32_t* argmax);
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

// y = the window maxima; argmax = each maximum's index i * in_w + j in its input plane. Ties keep
// the first in row-major order and a NaN wins (the last NaN of a window), as in PyTorch.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax);
// dx = 0, then each plane's dy (out_size values) added at its argmax in the plane of dx (in_size
// values); every argmax must be below in_size. Needs no window: argmax says where each value went.
void max_pool2d_backward(std::size_t planes, std::size_t in_size, std::size_t out_size,
                         const float* dy, const std::int32_t* argmax, float* dx);
// y = the window means.
void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y);
// dx = dy / window size, spread over each window (added where windows overlap).
void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx);

}  // namespace odyssey
