// Pooling over independent planes, split over the thread pool in fixed chunks of planes. The work
// is a few comparisons or additions per loaded element, so it is bound by memory traffic once the
// loops are shaped for the compiler to vectorise; max pooling's common 2x2 stride-2 window has
// explicit SIMD kernels, as its selects and index bookkeeping defeat the compiler.
#include "odyssey/pool.h"

#include <cstring>

#include "odyssey/parallel.h"

namespace odyssey {
namespace {

template <typename Body>
void for_each_plane(std::size_t planes, Body body) {
  parallel_for(planes, kPoolGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t plane = begin; plane < end; ++plane) body(plane);
  });
}

}  // namespace

const PoolKernels* pool_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(PoolKernels, kPool);
  return kTables.get(isa);
}

// Taps outermost, output columns innermost: the inner loop is free of branches and of loop-carried
// dependencies, so the compiler vectorises it; each output still sees its window's taps in
// row-major order.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2) {
    const auto row = pool_kernels().max_2x2_row;
    for_each_plane(s.planes, [&](std::size_t plane) {
      const float* in = x + plane * s.in_h * s.in_w;
      for (std::size_t oh = 0; oh < out_h; ++oh) {
        const std::size_t top = 2 * oh * s.in_w;
        const std::size_t out = (plane * out_h + oh) * out_w;
        row(in + top, s.in_w, out_w, static_cast<std::int32_t>(top), y + out, argmax + out);
      }
    });
    return;
  }
  // Output columns in blocks held in local arrays, which the compiler knows alias nothing.
  constexpr std::size_t kBlock = 16;
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      for (std::size_t ow0 = 0; ow0 < out_w; ow0 += kBlock) {
        const std::size_t n = out_w - ow0 < kBlock ? out_w - ow0 : kBlock;
        const std::size_t corner = oh * s.stride_h * s.in_w + ow0 * s.stride_w;
        float best[kBlock];
        std::int32_t best_at[kBlock];
        for (std::size_t i = 0; i < n; ++i) {
          best_at[i] = static_cast<std::int32_t>(corner + i * s.stride_w);
          best[i] = in[corner + i * s.stride_w];
        }
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = kh == 0 ? 1 : 0; kw < s.kernel_w; ++kw) {
            const std::size_t tap = corner + kh * s.in_w + kw;
            for (std::size_t i = 0; i < n; ++i) {
              const float v = in[tap + i * s.stride_w];
              // Strictly greater keeps the first of equal maxima; v != v lets a NaN win. A
              // bitwise or, not ||, keeps the loop free of branches.
              const bool take = (v > best[i]) | (v != v);
              best[i] = take ? v : best[i];
              best_at[i] = take ? static_cast<std::int32_t>(tap + i * s.stride_w) : best_at[i];
            }
          }
        }
        float* out = y + (plane * out_h + oh) * out_w + ow0;
        std::int32_t* index = argmax + (plane * out_h + oh) * out_w + ow0;
        for (std::size_t i = 0; i < n; ++i) {
          out[i] = best[i];
          index[i] = best_at[i];
        }
      }
    }
  });
}

void max_pool2d_backward(std::size_t planes, std::size_t in_size, std::size_t out_size,
                         const float* dy, const std::int32_t* argmax, float* dx) {
  if (in_size == 0) return;  // empty planes: nothing to write, however many there are
  for_each_plane(planes, [&](std::size_t plane) {
    float* grad = dx + plane * in_size;
    std::memset(grad, 0, in_size * sizeof(float));
    const float* g = dy + plane * out_size;
    const std::int32_t* index = argmax + plane * out_size;
    for (std::size_t i = 0; i < out_size; ++i) grad[index[i]] += g[i];
  });
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  const float window = static_cast<float>(s.kernel_h * s.kernel_w);
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      float* total = y + (plane * out_h + oh) * out_w;
      for (std::size_t ow = 0; ow < out_w; ++ow) total[ow] = 0.0f;
      for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
        for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
          const float* tap = in + (oh * s.stride_h + kh) * s.in_w + kw;
          for (std::size_t ow = 0; ow < out_w; ++ow) total[ow] += tap[ow * s.stride_w];
        }
      }
      for (std::size_t ow = 0; ow < out_w; ++ow) total[ow] /= window;
    }
  });
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), in_size = s.in_h * s.in_w;
  const float window = static_cast<float>(s.kernel_h * s.kernel_w);
  for_each_plane(s.planes, [&](std::size_t plane) {
    float* grad = dx + plane * in_size;
    std::memset(grad, 0, in_size * sizeof(float));
    const float* g = dy + plane * out_h * out_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        const float share = g[oh * out_w + ow] / window;
        float* corner = grad + oh * s.stride_h * s.in_w + ow * s.stride_w;
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) corner[kh * s.in_w + kw] += share;
        }
      }
    }
  });
}

}  // namespace odyssey
