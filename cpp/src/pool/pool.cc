// Pooling over independent planes, split over the thread pool in fixed chunks of planes. The work
// is a few comparisons or additions per loaded element, so it is bound by memory traffic once the
// loops are shaped for the compiler to vectorise; max pooling's common 2x2 stride-2 window has
// explicit SIMD kernels both ways, as its selects and index bookkeeping defeat the compiler.
// Backward passes over disjoint windows write each input element once instead of clearing dx
// and scattering into it: a third of the memory traffic and no read-modify-write chains.
#include "odyssey/pool.h"

#include <cstring>
#include <limits>
#include <vector>

#include "plane_loop.h"

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

// relu applied to a row of window maxima, while it is in cache: relu(max) = max(relu), so pooling
// first does a quarter of the work. relu's derivative is 0 where x <= 0 (a NaN passes, as in
// relu_backward), and there the argmax becomes -1, so the backward pass routes nothing. A dead
// window (maximum <= 0, so no NaN) has only zeros after relu, and the separate max-pool keeps the
// first of them: relu(first[i]), its first tap inside the input, which is first[i] where that is
// +-0 and +0 below (relu leaves -0.0 as it is). A window with no tap (argmax -1 already, possible
// with dilation) stays -inf, as the separate max-pool gives.
void relu_row(float* y, std::int32_t* argmax, const float* first, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t dead = all_ones_if((y[i] <= 0.0f) & (argmax[i] >= 0));
    const float zero = masked(first[i], all_ones_if(first[i] >= 0.0f));
    std::uint32_t best, relu_first;
    std::memcpy(&best, &y[i], sizeof best);
    std::memcpy(&relu_first, &zero, sizeof relu_first);
    best = (best & ~dead) | (relu_first & dead);
    std::memcpy(&y[i], &best, sizeof best);
    argmax[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(argmax[i]) | dead);
  }
}

// The taps [first, end) of one axis of a window that lie inside the input: the window starts at
// `start` (negative in the left padding) and its taps are dilation apart.
struct Taps {
  std::ptrdiff_t start;
  std::size_t first, end;
};

Taps taps_inside(std::size_t o, std::size_t in, std::size_t kernel, std::size_t stride,
                 std::size_t pad, std::size_t dilation) {
  const auto start = static_cast<std::ptrdiff_t>(o * stride) - static_cast<std::ptrdiff_t>(pad);
  const auto d = static_cast<std::ptrdiff_t>(dilation);
  const std::ptrdiff_t room = static_cast<std::ptrdiff_t>(in) - 1 - start;
  // Without dilation, no division: this runs once per output row, and rows can be short.
  const std::size_t first =
      start >= 0 ? 0 : static_cast<std::size_t>(d == 1 ? -start : (-start + d - 1) / d);
  std::size_t end = room < 0 ? 0 : static_cast<std::size_t>(d == 1 ? room : room / d) + 1;
  end = end < kernel ? end : kernel;
  return {start, first < end ? first : end, end};
}

// The outputs [begin, end) of an axis whose every tap lies inside the input.
struct Span {
  std::size_t begin, end;
};

Span interior(std::size_t in, std::size_t out, std::size_t kernel, std::size_t stride,
              std::size_t pad, std::size_t dilation) {
  const std::size_t begin = (pad + stride - 1) / stride, reach = dilation * (kernel - 1);
  std::size_t end = in - 1 + pad >= reach ? (in - 1 + pad - reach) / stride + 1 : 0;
  end = end < out ? end : out;
  return {begin, end > begin ? end : begin};
}

// The row taps of output row oh and the column taps of output column ow.
Taps row_taps(const Pool2dShape& s, std::size_t oh) {
  return taps_inside(oh, s.in_h, s.kernel_h, s.stride_h, s.pad_h, s.dilation_h);
}
Taps column_taps(const Pool2dShape& s, std::size_t ow) {
  return taps_inside(ow, s.in_w, s.kernel_w, s.stride_w, s.pad_w, s.dilation_w);
}

// Every output column's taps, worked out once per call rather than once per row of every plane.
std::vector<Taps> all_column_taps(const Pool2dShape& s) {
  std::vector<Taps> columns(s.out_w());
  for (std::size_t ow = 0; ow < columns.size(); ++ow) columns[ow] = column_taps(s, ow);
  return columns;
}

// The plane index of tap (kh, kw) of the window with row taps r and column taps c.
std::size_t tap_index(const Pool2dShape& s, const Taps& r, const Taps& c, std::size_t kh,
                      std::size_t kw) {
  return static_cast<std::size_t>(r.start + static_cast<std::ptrdiff_t>(kh * s.dilation_h)) *
             s.in_w +
         static_cast<std::size_t>(c.start + static_cast<std::ptrdiff_t>(kw * s.dilation_w));
}

// One window's maximum over its taps inside the input, in row-major order; -inf and -1 for a
// window with none.
void window_max(const Pool2dShape& s, const float* in, const Taps& r, const Taps& c, float& best,
                std::int32_t& best_at) {
  best = -std::numeric_limits<float>::infinity();
  best_at = -1;
  for (std::size_t kh = r.first; kh < r.end; ++kh) {
    for (std::size_t kw = c.first; kw < c.end; ++kw) {
      const std::size_t at = tap_index(s, r, c, kh, kw);
      const float v = in[at];
      if (best_at < 0 || v > best || v != v) {
        best = v;
        best_at = static_cast<std::int32_t>(at);
      }
    }
  }
}

// PyTorch's divisor of window (r, c) of an average.
float window_divisor(const Pool2dShape& s, const Taps& r, const Taps& c, AvgDivisor divisor) {
  if (divisor.divisor_override != 0) return static_cast<float>(divisor.divisor_override);
  if (!divisor.count_include_pad) return static_cast<float>((r.end - r.first) * (c.end - c.first));
  const auto clipped = [](std::ptrdiff_t start, std::size_t kernel, std::size_t in,
                          std::size_t pad) {
    const std::ptrdiff_t stop = start + static_cast<std::ptrdiff_t>(kernel);
    const auto limit = static_cast<std::ptrdiff_t>(in + pad);
    return (stop < limit ? stop : limit) - start;
  };
  return static_cast<float>(clipped(r.start, s.kernel_h, s.in_h, s.pad_h) *
                            clipped(c.start, s.kernel_w, s.in_w, s.pad_w));
}

// Small narrow planes of even sides (LeNet's second pool, 10 x 10): a 2x2 stride-2 window never
// crosses two planes, so a chunk's planes are one tall plane and the row kernel runs once per
// chunk, not once per plane: its setup is paid once, and rows of several planes share a vector.
// Planes up to 16 wide only: LeNet's first pool (28 x 28) measured slower this way. The kernel
// numbers elements across the tall plane; argmax is per plane, so it is shifted on the way out
// (forward) and in (backward) through a chunk-sized buffer.
constexpr std::size_t kTallPlaneOutputs = 256;

bool tall_planes(const Pool2dShape& s) {
  return s.in_h == 2 * s.out_h() && s.in_w == 2 * s.out_w() && s.in_w <= 16 &&
         s.out_h() * s.out_w() <= kTallPlaneOutputs;
}

void max_2x2_tall_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax,
                          bool relu) {
  const auto rows = pool_kernels().max_2x2_rows;
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  const std::size_t plane_in = s.in_h * s.in_w, plane_out = out_h * out_w;
  parallel_for(s.planes, kPoolGrain, [&](std::size_t begin, std::size_t end) {
    rows(x + begin * plane_in, s.in_w, out_w, (end - begin) * out_h, 0, relu, y + begin * plane_out,
         argmax + begin * plane_out);
    for (std::size_t p = 1; p < end - begin; ++p) {
      std::int32_t* index = argmax + (begin + p) * plane_out;
      const auto shift = static_cast<std::uint32_t>(p * plane_in);
      // -1 (a dead relu output) stays -1. Bit masks, not ?:, so the loop vectorises.
      for (std::size_t i = 0; i < plane_out; ++i) {
        const auto at = static_cast<std::uint32_t>(index[i]), keep = all_ones_if(index[i] >= 0);
        index[i] = static_cast<std::int32_t>(((at - shift) & keep) | ~keep);
      }
    }
  });
}

void max_2x2_tall_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                           float* dx) {
  const auto rows = pool_kernels().max_2x2_backward_rows;
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  const std::size_t plane_in = s.in_h * s.in_w, plane_out = out_h * out_w;
  parallel_for(s.planes, kPoolGrain, [&](std::size_t begin, std::size_t end) {
    std::int32_t tall[kPoolGrain * kTallPlaneOutputs];
    for (std::size_t p = 0; p < end - begin; ++p) {
      const std::int32_t* index = argmax + (begin + p) * plane_out;
      const auto shift = static_cast<std::uint32_t>(p * plane_in);
      std::int32_t* to = tall + p * plane_out;
      // The kernel compares each argmax only with its own window's elements, so an index that
      // names none of them (-1, outside the plane) still names none after the shift: the sum wraps
      // in 32 bits, where equal means equal.
      for (std::size_t i = 0; i < plane_out; ++i) {
        to[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(index[i]) + shift);
      }
    }
    rows(dy + begin * plane_out, tall, out_w, (end - begin) * out_h, 0, s.in_w,
         dx + begin * plane_in);
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
void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax,
                        bool relu) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2 &&
      windows_plain(s)) {
    if (tall_planes(s)) {
      max_2x2_tall_forward(s, x, y, argmax, relu);
      return;
    }
    const auto rows = pool_kernels().max_2x2_rows;
    for_each_plane(s.planes, [&](std::size_t plane) {
      const std::size_t out = plane * out_h * out_w;
      rows(x + plane * s.in_h * s.in_w, s.in_w, out_w, out_h, 0, relu, y + out, argmax + out);
    });
    return;
  }
  // Output columns in blocks held in local arrays, which the compiler knows alias nothing.
  constexpr std::size_t kBlock = 16;
  if (windows_plain(s)) {
    // No per-row tap ranges: the loops of the common case, nothing else.
    for_each_plane(s.planes, [&](std::size_t plane) {
      const float* in = x + plane * s.in_h * s.in_w;
      for (std::size_t oh = 0; oh < out_h; ++oh) {
        for (std::size_t ow0 = 0; ow0 < out_w; ow0 += kBlock) {
          const std::size_t n = out_w - ow0 < kBlock ? out_w - ow0 : kBlock;
          const std::size_t corner = oh * s.stride_h * s.in_w + ow0 * s.stride_w;
          float best[kBlock], first[kBlock];
          std::int32_t best_at[kBlock];
          for (std::size_t i = 0; i < n; ++i) {
            best_at[i] = static_cast<std::int32_t>(corner + i * s.stride_w);
            best[i] = in[corner + i * s.stride_w];
            first[i] = best[i];
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
          if (relu) relu_row(out, index, first, n);
        }
      }
    });
    return;
  }
  // Padding, dilation or a ceil-mode window over the edge: the output columns whose window lies
  // inside the input in blocks as above, the few at the edges one window at a time.
  const Span inner = interior(s.in_w, out_w, s.kernel_w, s.stride_w, s.pad_w, s.dilation_w);
  const std::vector<Taps> columns = all_column_taps(s);
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      float* out = y + (plane * out_h + oh) * out_w;
      std::int32_t* index = argmax + (plane * out_h + oh) * out_w;
      const Taps r = row_taps(s, oh);
      const Span block_span = r.first < r.end ? inner : Span{0, 0};
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        if (ow == block_span.begin) ow = block_span.end;
        if (ow == out_w) break;
        const Taps& c = columns[ow];
        window_max(s, in, r, c, out[ow], index[ow]);
        if (relu) {
          // The first tap inside the input; unread when there is none (argmax -1 then).
          const float first =
              r.first < r.end && c.first < c.end ? in[tap_index(s, r, c, r.first, c.first)] : 0.0f;
          relu_row(out + ow, index + ow, &first, 1);
        }
      }
      for (std::size_t ow0 = block_span.begin; ow0 < block_span.end; ow0 += kBlock) {
        const std::size_t n = block_span.end - ow0 < kBlock ? block_span.end - ow0 : kBlock;
        const Taps& c = columns[ow0];
        float best[kBlock], first[kBlock];
        std::int32_t best_at[kBlock];
        const std::size_t corner = tap_index(s, r, c, r.first, 0);
        for (std::size_t i = 0; i < n; ++i) {
          best_at[i] = static_cast<std::int32_t>(corner + i * s.stride_w);
          best[i] = in[corner + i * s.stride_w];
          first[i] = best[i];
        }
        for (std::size_t kh = r.first; kh < r.end; ++kh) {
          for (std::size_t kw = kh == r.first ? 1 : 0; kw < s.kernel_w; ++kw) {
            const std::size_t tap = tap_index(s, r, c, kh, kw);
            for (std::size_t i = 0; i < n; ++i) {
              const float v = in[tap + i * s.stride_w];
              const bool take = (v > best[i]) | (v != v);
              best[i] = take ? v : best[i];
              best_at[i] = take ? static_cast<std::int32_t>(tap + i * s.stride_w) : best_at[i];
            }
          }
        }
        for (std::size_t i = 0; i < n; ++i) {
          out[ow0 + i] = best[i];
          index[ow0 + i] = best_at[i];
        }
        if (relu) relu_row(out + ow0, index + ow0, first, n);
      }
    }
  });
}

void max_pool_scatter(std::size_t planes, std::size_t in_size, std::size_t out_size,
                      const float* dy, const std::int32_t* argmax, float* dx) {
  for_each_plane(planes, [&](std::size_t plane) {
    float* grad = dx + plane * in_size;
    std::memset(grad, 0, in_size * sizeof(float));
    const float* g = dy + plane * out_size;
    const std::int32_t* index = argmax + plane * out_size;
    for (std::size_t i = 0; i < out_size; ++i) {
      if (index[i] >= 0) grad[index[i]] += g[i];
    }
  });
}

void max_pool2d_backward(const Pool2dShape& s, const float* dy, const std::int32_t* argmax,
                         float* dx) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), in_size = s.in_h * s.in_w;
  if (!windows_disjoint(s)) {
    max_pool_scatter(s.planes, in_size, out_h * out_w, dy, argmax, dx);
    return;
  }
  if (s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2) {
    if (tall_planes(s)) {
      max_2x2_tall_backward(s, dy, argmax, dx);
      return;
    }
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

namespace {

// Windows inside the input share one divisor: the window size, or the override.
float plain_divisor(const Pool2dShape& s, AvgDivisor divisor) {
  return divisor.divisor_override != 0 ? static_cast<float>(divisor.divisor_override)
                                       : static_cast<float>(s.kernel_h * s.kernel_w);
}

}  // namespace

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y, AvgDivisor divisor) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  if (windows_plain(s)) {
    // No per-row tap ranges or divisors: the loops of the common case, nothing else.
    const float window = plain_divisor(s, divisor);
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
    return;
  }
  const Span inner = interior(s.in_w, out_w, s.kernel_w, s.stride_w, s.pad_w, 1);
  const std::vector<Taps> columns = all_column_taps(s);
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      float* total = y + (plane * out_h + oh) * out_w;
      const Taps r = row_taps(s, oh);
      const bool rows_inside = r.first < r.end;
      for (std::size_t ow = 0; ow < out_w; ++ow) total[ow] = 0.0f;
      // Columns whose window lies inside the input: taps outermost, columns innermost, which the
      // compiler vectorises; each output still sums its taps in row-major order. They share one
      // divisor.
      if (inner.begin < inner.end) {
        const Taps& c = columns[inner.begin];
        for (std::size_t kh = r.first; kh < r.end; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
            const float* tap = in + tap_index(s, r, c, kh, kw);
            for (std::size_t ow = inner.begin; ow < inner.end; ++ow) {
              total[ow] += tap[(ow - inner.begin) * s.stride_w];
            }
          }
        }
        // PyTorch gives 0 for a window with no tap inside the input, whatever the divisor.
        const float window = window_divisor(s, r, c, divisor);
        for (std::size_t ow = inner.begin; ow < inner.end; ++ow) {
          total[ow] = rows_inside ? total[ow] / window : 0.0f;
        }
      }
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        if (ow == inner.begin) ow = inner.end;
        if (ow == out_w) break;
        const Taps& c = columns[ow];
        for (std::size_t kh = r.first; kh < r.end; ++kh) {
          for (std::size_t kw = c.first; kw < c.end; ++kw) {
            total[ow] += in[tap_index(s, r, c, kh, kw)];
          }
        }
        total[ow] =
            rows_inside && c.first < c.end ? total[ow] / window_divisor(s, r, c, divisor) : 0.0f;
      }
    }
  });
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx, AvgDivisor divisor) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), in_size = s.in_h * s.in_w;
  if (windows_disjoint(s)) {
    // Every window lies inside the input, so all share one divisor. Every dx element written
    // once: its window's share (0 + share, as the cleared sum gives), or 0 outside every window.
    const float window = plain_divisor(s, divisor);
    for_each_plane(s.planes, [&](std::size_t plane) {
      // Locals, not the captured references: the stores into dx cannot alias them, so they stay
      // in registers.
      const float divide_by = window;
      const std::size_t step = s.stride_w, width = s.kernel_w;
      float* grad = dx + plane * in_size;
      const float* g = dy + plane * out_h * out_w;
      for (std::size_t r = 0; r < s.in_h; ++r) {
        float* row = grad + r * s.in_w;
        const std::size_t oh = r / s.stride_h;
        std::memset(row, 0, s.in_w * sizeof(float));
        if (oh >= out_h || r % s.stride_h >= s.kernel_h) continue;
        for (std::size_t ow = 0; ow < out_w; ++ow) {
          const float share = 0.0f + g[oh * out_w + ow] / divide_by;
          for (std::size_t kw = 0; kw < width; ++kw) row[ow * step + kw] = share;
        }
      }
    });
    return;
  }
  if (windows_plain(s)) {
    const float window = plain_divisor(s, divisor);
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
    return;
  }
  const std::vector<Taps> columns = all_column_taps(s);
  for_each_plane(s.planes, [&](std::size_t plane) {
    float* grad = dx + plane * in_size;
    std::memset(grad, 0, in_size * sizeof(float));
    const float* g = dy + plane * out_h * out_w;
    for (std::size_t oh = 0; oh < out_h; ++oh) {
      const Taps r = row_taps(s, oh);
      for (std::size_t ow = 0; ow < out_w; ++ow) {
        const Taps& c = columns[ow];
        if (r.first == r.end || c.first == c.end) continue;
        const float share = g[oh * out_w + ow] / window_divisor(s, r, c, divisor);
        float* corner = grad + tap_index(s, r, c, r.first, c.first);
        const std::size_t rows = r.end - r.first, cols = c.end - c.first;
        for (std::size_t kh = 0; kh < rows; ++kh) {
          for (std::size_t kw = 0; kw < cols; ++kw) corner[kh * s.in_w + kw] += share;
        }
      }
    }
  });
}

}  // namespace odyssey
