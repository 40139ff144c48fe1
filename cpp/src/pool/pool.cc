// Pooling over independent planes, split over the thread pool in fixed chunks of planes. The work
// is a few comparisons or additions per loaded element, so it is bound by memory traffic once the
// loops are shaped for the compiler to vectorise; max pooling's common 2x2 stride-2 window has
// explicit SIMD kernels both ways, as its selects and index bookkeeping defeat the compiler.
// Backward passes over disjoint windows write each input element once instead of clearing dx
// and scattering into it: a third of the memory traffic and no read-modify-write chains.
#include "odyssey/pool.h"

#include <cstring>

#include "odyssey/parallel.h"

namespace odyssey {
namespace {

// Selections as bit masks rather than ?:, which GCC compiles to branches here: with random data
// they mispredict about every other element, and a branch also stops the loop's vectorisation.
std::uint32_t all_ones_if(bool condition) { return 0u - static_cast<std::uint32_t>(condition); }
float masked(float value, std::uint32_t keep) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits &= keep;
  std::memcpy(&value, &bits, sizeof bits);
  return value;
}

template <typename Body>
void for_each_plane(std::size_t planes, Body body) {
  parallel_for(planes, kPoolGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t plane = begin; plane < end; ++plane) body(plane);
  });
}

// relu applied to a row of window maxima, while it is in cache: relu(max) = max(relu), so pooling
// first does a quarter of the work. relu's derivative is 0 where x <= 0 (a NaN passes, as in
// relu_backward), and there the argmax becomes -1, so the backward pass routes nothing. A dead
// output is +0 (the separate ops would give -0 for a window whose first element is -0).
void relu_row(float* y, std::int32_t* argmax, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t keep = all_ones_if(!(y[i] <= 0.0f));
    y[i] = masked(y[i], keep);
    argmax[i] = static_cast<std::int32_t>((static_cast<std::uint32_t>(argmax[i]) & keep) | ~keep);
  }
}

}  // namespace

const PoolKernels* pool_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(PoolKernels, kPool);
  return kTables.get(isa);
}

// Taps outermost, output columns innermost: the inner loop is free of branches and of loop-carried
// dependencies, so the compiler vectorises it; each output still sees its window's taps in
// row-major order.
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax,
                        bool relu) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2) {
    const auto rows = pool_kernels().max_2x2_rows;
    for_each_plane(s.planes, [&](std::size_t plane) {
      const std::size_t out = plane * out_h * out_w;
      rows(x + plane * s.in_h * s.in_w, s.in_w, out_w, out_h, 0, relu, y + out, argmax + out);
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
        if (relu) relu_row(out, index, n);
      }
    }
  });
}

void max_pool2d_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                         float* dx) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), in_size = s.in_h * s.in_w;
  if (!windows_disjoint(s)) {
    for_each_plane(s.planes, [&](std::size_t plane) {
      float* grad = dx + plane * in_size;
      std::memset(grad, 0, in_size * sizeof(float));
      const float* g = dy + plane * out_h * out_w;
      const std::int32_t* index = argmax + plane * out_h * out_w;
      for (std::size_t i = 0; i < out_h * out_w; ++i) {
        if (index[i] >= 0) grad[index[i]] += g[i];
      }
    });
    return;
  }
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2) {
    const auto rows = pool_kernels().max_2x2_backward_rows;
    for_each_plane(s.planes, [&](std::size_t plane) {
      float* grad = dx + plane * in_size;
      const std::size_t out = plane * out_h * out_w;
      rows(dy + out, argmax + out, out_w, out_h, 0, s.in_w, grad);
      if (s.in_w % 2 != 0) {
        for (std::size_t r = 0; r < 2 * out_h; ++r) grad[r * s.in_w + s.in_w - 1] = 0.0f;
      }
      if (s.in_h % 2 != 0) std::memset(grad + (s.in_h - 1) * s.in_w, 0, s.in_w * sizeof(float));
    });
    return;
  }
  // Each input row lies in one row of windows or in none; within it, each column in one window
  // or in none. 0 + g, not g, so a -0 gradient lands as +0, as adding into a cleared dx gives.
  for_each_plane(s.planes, [&](std::size_t plane) {
    float* grad = dx + plane * in_size;
    const float* g = dy + plane * out_h * out_w;
    const std::int32_t* index = argmax + plane * out_h * out_w;
    for (std::size_t r = 0; r < s.in_h; ++r) {
      float* row = grad + r * s.in_w;
      const std::size_t oh = r / s.stride_h;
      if (oh >= out_h || r % s.stride_h >= s.kernel_h) {
        std::memset(row, 0, s.in_w * sizeof(float));
        continue;
      }
      if (s.stride_w > s.kernel_w) std::memset(row, 0, s.in_w * sizeof(float));
      const auto first = static_cast<std::int32_t>(r * s.in_w);
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        const std::int32_t at = index[oh * out_w + ow];
        const float value = 0.0f + g[oh * out_w + ow];
        const std::size_t left = ow * s.stride_w;
        for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
          const auto here = first + static_cast<std::int32_t>(left + kw);
          row[left + kw] = masked(value, all_ones_if(at == here));
        }
      }
      const std::size_t covered = (out_w - 1) * s.stride_w + s.kernel_w;
      std::memset(row + covered, 0, (s.in_w - covered) * sizeof(float));
    }
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
  if (windows_disjoint(s)) {
    // Every dx element written once: its window's share (0 + share, as the cleared sum gives), or
    // 0 outside every window.
    for_each_plane(s.planes, [&](std::size_t plane) {
      float* grad = dx + plane * in_size;
      const float* g = dy + plane * out_h * out_w;
      for (std::size_t r = 0; r < s.in_h; ++r) {
        float* row = grad + r * s.in_w;
        const std::size_t oh = r / s.stride_h;
        std::memset(row, 0, s.in_w * sizeof(float));
        if (oh >= out_h || r % s.stride_h >= s.kernel_h) continue;
        for (std::size_t ow = 0; ow < out_w; ++ow) {
          const float share = 0.0f + g[oh * out_w + ow] / window;
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) row[ow * s.stride_w + kw] = share;
        }
      }
    });
    return;
  }
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
