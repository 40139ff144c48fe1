// The direct convolution kernels written once over a vector type, included by each ISA's
// translation unit with its own traits struct V (in an anonymous namespace there, so every
// instantiation stays private to that unit and its target flags):
//   V::Vec, V::kLanes, V::kForwardChannels x V::kForwardVectors (forward register block),
//   V::kGradChannels x V::kGradTaps (weight-gradient register block), and
//   zero(), load(p), load_first(p, n), broadcast(f), fma(a, b, c) = a * b + c, add(a, b),
//   store(p, v), store_first(p, v, n), sum(v).
// load_first/store_first touch the first n lanes only (0 < n <= kLanes).
#pragma once

#include <cstddef>

#include "odyssey/conv.h"

namespace odyssey::conv_direct {

// Calls body(Count<n>()) for n == count, 1 <= n <= Max: turns a run-time block size (the last block
// of a loop may be short) into the compile-time size a register-blocked kernel is written for.
template <int N>
struct Count {
  static constexpr int value = N;
};

template <int Max, class Body>
void with_count(std::size_t count, const Body& body) {
  if (count == Max) {
    body(Count<Max>());
  } else if constexpr (Max > 1) {
    with_count<Max - 1>(count, body);
  }
}

// Outputs (oc0 .. oc0+OC) x row oh x columns (ow0 .. ow0+width), width <= NV * kLanes: every
// product of a kernel tap is one broadcast weight times NV contiguous input vectors, so each
// weight load feeds NV FMAs and each input load feeds OC.
template <class V, int OC, int NV>
void forward_block(const PackedConv& p, const float* x, const float* w, const float* bias, float* y,
                   std::size_t oc0, std::size_t oh, std::size_t ow0, std::size_t width) {
  typename V::Vec acc[OC][NV];
  for (int o = 0; o < OC; ++o) {
    for (int v = 0; v < NV; ++v) acc[o][v] = V::zero();
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
  const std::size_t w_stride = p.channels * taps;
  const float* w_block = w + oc0 * w_stride;
  const std::size_t kh_begin = p.first_kernel_row(oh), kh_end = p.end_kernel_row(oh);
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = kh_begin; kh < kh_end; kh += p.data_step) {
      const float* x_row =
          x + ((c * p.rows + oh * p.stride_h + kh) * p.stride_w) * p.row_stride + ow0;
      const float* w_tap = w_block + (c * p.kernel_h + kh) * p.kernel_w;
      // Column phase and shift of tap kw, stepped rather than divided out per tap.
      std::size_t phase = 0, shift = 0;
      for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
        const float* x_tap = x_row + phase * p.row_stride + shift;
        typename V::Vec xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = V::load(x_tap + v * V::kLanes);
        for (int o = 0; o < OC; ++o) {
          const typename V::Vec wv = V::broadcast(w_tap[o * w_stride + kw]);
          for (int v = 0; v < NV; ++v) acc[o][v] = V::fma(wv, xv[v], acc[o][v]);
        }
        if (++phase == p.stride_w) {
          phase = 0;
          ++shift;
        }
      }
    }
  }
  for (int o = 0; o < OC; ++o) {
    float* y_row = y + ((oc0 + o) * p.out_h + oh) * p.out_w + ow0;
    for (int v = 0; v < NV; ++v) {
      // Added after the sum, as the reference does, so bias rounds the same way.
      const typename V::Vec out =
          bias != nullptr ? V::add(acc[o][v], V::broadcast(bias[oc0 + o])) : acc[o][v];
      const std::size_t start = v * V::kLanes;
      if (start + V::kLanes <= width) {
        V::store(y_row + start, out);
      } else {
        V::store_first(y_row + start, out, width - start);
      }
    }
  }
}

// The last strip of a row, narrower than a full one: NV is the number of vectors it needs.
template <class V, int OC, int NV>
void forward_tail_strip(std::size_t vectors, const PackedConv& p, const float* x, const float* w,
                        const float* bias, float* y, std::size_t oc0, std::size_t oh,
                        std::size_t ow0, std::size_t width) {
  if (vectors == NV) {
    forward_block<V, OC, NV>(p, x, w, bias, y, oc0, oh, ow0, width);
  } else if constexpr (NV > 1) {
    forward_tail_strip<V, OC, NV - 1>(vectors, p, x, w, bias, y, oc0, oh, ow0, width);
  }
}

// Output rows oh and oh + 1 of a plane no wider than one vector, for unit row steps: one vector
// per row would leave each weight broadcast feeding a single FMA, two rows feed two. The kernel
// rows of both are visited; those meeting padding for one row read its zeros.
template <class V, int OC>
void forward_two_rows(const PackedConv& p, const float* x, const float* w, const float* bias,
                      float* y, std::size_t oc0, std::size_t oh) {
  typename V::Vec acc[OC][2];
  for (int o = 0; o < OC; ++o) acc[o][0] = acc[o][1] = V::zero();
  const std::size_t taps = p.kernel_h * p.kernel_w;
  const std::size_t w_stride = p.channels * taps;
  const std::size_t row_step = p.stride_h * p.stride_w * p.row_stride;
  const float* w_block = w + oc0 * w_stride;
  const std::size_t kh_begin = p.first_kernel_row(oh + 1), kh_end = p.end_kernel_row(oh);
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = kh_begin; kh < kh_end; ++kh) {
      const float* x_row = x + ((c * p.rows + oh * p.stride_h + kh) * p.stride_w) * p.row_stride;
      const float* w_tap = w_block + (c * p.kernel_h + kh) * p.kernel_w;
      // Column phase and shift of tap kw, stepped rather than divided out per tap.
      std::size_t phase = 0, shift = 0;
      for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
        const float* x_tap = x_row + phase * p.row_stride + shift;
        const typename V::Vec upper = V::load(x_tap), lower = V::load(x_tap + row_step);
        for (int o = 0; o < OC; ++o) {
          const typename V::Vec wv = V::broadcast(w_tap[o * w_stride + kw]);
          acc[o][0] = V::fma(wv, upper, acc[o][0]);
          acc[o][1] = V::fma(wv, lower, acc[o][1]);
        }
        if (++phase == p.stride_w) {
          phase = 0;
          ++shift;
        }
      }
    }
  }
  for (int o = 0; o < OC; ++o) {
    float* y_row = y + ((oc0 + o) * p.out_h + oh) * p.out_w;
    for (int r = 0; r < 2; ++r) {
      const typename V::Vec out =
          bias != nullptr ? V::add(acc[o][r], V::broadcast(bias[oc0 + o])) : acc[o][r];
      if (p.out_w == V::kLanes) {
        V::store(y_row + r * p.out_w, out);
      } else {
        V::store_first(y_row + r * p.out_w, out, p.out_w);
      }
    }
  }
}

template <class V, int OC>
void forward_channels(const PackedConv& p, const float* x, const float* w, const float* bias,
                      float* y, std::size_t oc0) {
  constexpr std::size_t kStrip = V::kForwardVectors * V::kLanes;
  std::size_t first_single_row = 0;
  if (p.data_step == 1 && p.out_w <= V::kLanes) {
    for (; first_single_row + 2 <= p.out_h; first_single_row += 2) {
      forward_two_rows<V, OC>(p, x, w, bias, y, oc0, first_single_row);
    }
  }
  for (std::size_t oh = first_single_row; oh < p.out_h; ++oh) {
    std::size_t ow0 = 0;
    for (; ow0 + kStrip <= p.out_w; ow0 += kStrip) {
      forward_block<V, OC, V::kForwardVectors>(p, x, w, bias, y, oc0, oh, ow0, kStrip);
    }
    if (ow0 < p.out_w) {
      const std::size_t width = p.out_w - ow0;
      forward_tail_strip<V, OC, V::kForwardVectors>((width + V::kLanes - 1) / V::kLanes, p, x, w,
                                                    bias, y, oc0, oh, ow0, width);
    }
  }
}

// The taps of one input row for output rows oh (kernel row r, when kTop) and oh + 1 (kernel row
// r - 1, when kBottom) of a stride-1 plane: each input vector feeds both rows' FMAs.
template <class V, int OC, int NV, bool kTop, bool kBottom>
void forward_pair_taps(const PackedConv& p, const float* x_row, const float* w_top,
                       const float* w_bottom, std::size_t w_stride,
                       typename V::Vec (&acc)[2][OC][NV]) {
  std::size_t phase = 0, shift = 0;
  for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
    const float* x_tap = x_row + phase * p.row_stride + shift;
    typename V::Vec xv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) xv[v] = V::load(x_tap + v * V::kLanes);
#pragma GCC unroll 16
    for (int o = 0; o < OC; ++o) {
      if constexpr (kTop) {
        const typename V::Vec wv = V::broadcast(w_top[o * w_stride + kw]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[0][o][v] = V::fma(wv, xv[v], acc[0][o][v]);
      }
      if constexpr (kBottom) {
        const typename V::Vec wv = V::broadcast(w_bottom[o * w_stride + kw]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[1][o][v] = V::fma(wv, xv[v], acc[1][o][v]);
      }
    }
    if (++phase == p.stride_w) {
      phase = 0;
      ++shift;
    }
  }
}

// Output rows oh and oh + 1 of a stride-1 plane, channels oc0 .. oc0+OC, columns ow0 ..
// ow0+width: input row oh + r serves kernel row r of the upper output row and r - 1 of the lower,
// so each input load feeds 2 * OC FMAs (forward_block's OC) and the loop overhead per FMA halves.
// Each output still sums its products in (c, kh, kw) order.
template <class V, int OC, int NV>
void forward_pair_block(const PackedConv& p, const float* x, const float* w, const float* bias,
                        float* y, std::size_t oc0, std::size_t oh, std::size_t ow0,
                        std::size_t width) {
  typename V::Vec acc[2][OC][NV];
#pragma GCC unroll 16
  for (int o = 0; o < OC; ++o) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[0][o][v] = acc[1][o][v] = V::zero();
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
  const std::size_t w_stride = p.channels * taps;
  const float* w_block = w + oc0 * w_stride;
  const std::size_t top_begin = p.first_kernel_row(oh), top_end = p.end_kernel_row(oh);
  const std::size_t bottom_begin = p.first_kernel_row(oh + 1) + 1,
                    bottom_end = p.end_kernel_row(oh + 1) + 1;
  const std::size_t r_begin = top_begin < bottom_begin ? top_begin : bottom_begin;
  const std::size_t r_end = top_end > bottom_end ? top_end : bottom_end;
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t r = r_begin; r < r_end; ++r) {
      const float* x_row = x + ((c * p.rows + oh + r) * p.stride_w) * p.row_stride + ow0;
      const bool top = r >= top_begin && r < top_end;
      const bool bottom = r >= bottom_begin && r < bottom_end;
      const float* w_top = top ? w_block + (c * p.kernel_h + r) * p.kernel_w : nullptr;
      const float* w_bottom = bottom ? w_block + (c * p.kernel_h + r - 1) * p.kernel_w : nullptr;
      if (top && bottom) {
        forward_pair_taps<V, OC, NV, true, true>(p, x_row, w_top, w_bottom, w_stride, acc);
      } else if (top) {
        forward_pair_taps<V, OC, NV, true, false>(p, x_row, w_top, w_bottom, w_stride, acc);
      } else if (bottom) {
        forward_pair_taps<V, OC, NV, false, true>(p, x_row, w_top, w_bottom, w_stride, acc);
      }
    }
  }
#pragma GCC unroll 2
  for (int row = 0; row < 2; ++row) {
#pragma GCC unroll 16
    for (int o = 0; o < OC; ++o) {
      float* y_row = y + ((oc0 + o) * p.out_h + oh + row) * p.out_w + ow0;
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const typename V::Vec out =
            bias != nullptr ? V::add(acc[row][o][v], V::broadcast(bias[oc0 + o])) : acc[row][o][v];
        const std::size_t start = v * V::kLanes;
        if (start + V::kLanes <= width) {
          V::store(y_row + start, out);
        } else {
          V::store_first(y_row + start, out, width - start);
        }
      }
    }
  }
}

template <class V, int OC, int NV>
void forward_pair_tail_strip(std::size_t vectors, const PackedConv& p, const float* x,
                             const float* w, const float* bias, float* y, std::size_t oc0,
                             std::size_t oh, std::size_t ow0, std::size_t width) {
  if (vectors == NV) {
    forward_pair_block<V, OC, NV>(p, x, w, bias, y, oc0, oh, ow0, width);
  } else if constexpr (NV > 1) {
    forward_pair_tail_strip<V, OC, NV - 1>(vectors, p, x, w, bias, y, oc0, oh, ow0, width);
  }
}

// Stride-1 planes wider than a vector, rows in pairs (an odd last row alone).
template <class V, int OC>
void forward_pairs(const PackedConv& p, const float* x, const float* w, const float* bias, float* y,
                   std::size_t oc0) {
  constexpr std::size_t kStrip = V::kForwardVectors * V::kLanes;
  for (std::size_t oh = 0; oh < p.out_h; oh += 2) {
    const bool pair = oh + 1 < p.out_h;
    std::size_t ow0 = 0;
    for (; ow0 + kStrip <= p.out_w; ow0 += kStrip) {
      if (pair) {
        forward_pair_block<V, OC, V::kForwardVectors>(p, x, w, bias, y, oc0, oh, ow0, kStrip);
      } else {
        forward_block<V, OC, V::kForwardVectors>(p, x, w, bias, y, oc0, oh, ow0, kStrip);
      }
    }
    if (ow0 < p.out_w) {
      const std::size_t width = p.out_w - ow0, vectors = (width + V::kLanes - 1) / V::kLanes;
      if (pair) {
        forward_pair_tail_strip<V, OC, V::kForwardVectors>(vectors, p, x, w, bias, y, oc0, oh, ow0,
                                                           width);
      } else {
        forward_tail_strip<V, OC, V::kForwardVectors>(vectors, p, x, w, bias, y, oc0, oh, ow0,
                                                      width);
      }
    }
  }
}

template <class V>
void forward(const PackedConv& p, const float* x, const float* w, const float* bias, float* y) {
  if (p.stride_h == 1 && p.data_step == 1 && p.out_w > V::kLanes && p.out_h >= 2) {
    constexpr std::size_t kPairBlock = V::kPairChannels;
    for (std::size_t oc0 = 0; oc0 < p.out_channels; oc0 += kPairBlock) {
      const std::size_t count =
          p.out_channels - oc0 < kPairBlock ? p.out_channels - oc0 : kPairBlock;
      with_count<V::kPairChannels>(
          count, [&](auto n) { forward_pairs<V, decltype(n)::value>(p, x, w, bias, y, oc0); });
    }
    return;
  }
  constexpr std::size_t kBlock = V::kForwardChannels;
  for (std::size_t oc0 = 0; oc0 < p.out_channels; oc0 += kBlock) {
    const std::size_t count = p.out_channels - oc0 < kBlock ? p.out_channels - oc0 : kBlock;
    with_count<V::kForwardChannels>(
        count, [&](auto n) { forward_channels<V, decltype(n)::value>(p, x, w, bias, y, oc0); });
  }
}

// dw[oc0 .. oc0+OC][c][kh][kw0 .. kw0+KW] += the sums over the output plane of dy times the input
// under that tap. The output columns are the vector lanes; the dy vectors of OC channels stay in
// registers across KW taps, each input vector across OC channels. The loops over o and k are
// unrolled in full: otherwise GCC keeps acc in memory and stores every accumulator after each FMA.
template <class V, int OC, int KW>
void weight_grad_block(const PackedConv& p, const float* x, const float* dy, float* dw,
                       std::size_t oc0, std::size_t c, std::size_t kh, std::size_t kw0) {
  typename V::Vec acc[OC][KW];
#pragma GCC unroll 16
  for (int o = 0; o < OC; ++o) {
#pragma GCC unroll 16
    for (int k = 0; k < KW; ++k) acc[o][k] = V::zero();
  }
  const std::size_t plane = p.out_h * p.out_w;
  const float* dy_block = dy + oc0 * plane;
  const float* x_taps[KW];
#pragma GCC unroll 16
  for (int k = 0; k < KW; ++k) {
    const std::size_t kw = kw0 + k;
    x_taps[k] =
        x + ((c * p.rows + kh) * p.stride_w + kw % p.stride_w) * p.row_stride + kw / p.stride_w;
  }
  const std::size_t x_row_step = p.stride_h * p.stride_w * p.row_stride;
  for (std::size_t oh = 0; oh < p.out_h; ++oh) {
    const float* dy_row = dy_block + oh * p.out_w;
    const std::size_t x_offset = oh * x_row_step;
    std::size_t ow = 0;
    for (; ow + V::kLanes <= p.out_w; ow += V::kLanes) {
      typename V::Vec d[OC];
#pragma GCC unroll 16
      for (int o = 0; o < OC; ++o) d[o] = V::load(dy_row + o * plane + ow);
#pragma GCC unroll 16
      for (int k = 0; k < KW; ++k) {
        const typename V::Vec xv = V::load(x_taps[k] + x_offset + ow);
#pragma GCC unroll 16
        for (int o = 0; o < OC; ++o) acc[o][k] = V::fma(d[o], xv, acc[o][k]);
      }
    }
    if (ow < p.out_w) {
      // Both operands masked: the input past the output width may hold an infinity that a zero
      // dy would turn into NaN.
      const std::size_t n = p.out_w - ow;
      typename V::Vec d[OC];
#pragma GCC unroll 16
      for (int o = 0; o < OC; ++o) d[o] = V::load_first(dy_row + o * plane + ow, n);
#pragma GCC unroll 16
      for (int k = 0; k < KW; ++k) {
        const typename V::Vec xv = V::load_first(x_taps[k] + x_offset + ow, n);
#pragma GCC unroll 16
        for (int o = 0; o < OC; ++o) acc[o][k] = V::fma(d[o], xv, acc[o][k]);
      }
    }
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
#pragma GCC unroll 16
  for (int o = 0; o < OC; ++o) {
    float* dw_row = dw + ((oc0 + o) * p.channels + c) * taps + kh * p.kernel_w + kw0;
#pragma GCC unroll 16
    for (int k = 0; k < KW; ++k) dw_row[k] += V::sum(acc[o][k]);
  }
}

// Kernel columns are split into near-equal blocks of at most kGradTaps (5 -> 3 + 2, not 4 + 1),
// so no block reloads dy for a single tap.
template <class V, int OC>
void weight_grad_channels(const PackedConv& p, const float* x, const float* dy, float* dw,
                          std::size_t oc0) {
  const std::size_t blocks = (p.kernel_w + V::kGradTaps - 1) / V::kGradTaps;
  const std::size_t base = p.kernel_w / blocks, longer = p.kernel_w % blocks;
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = 0; kh < p.kernel_h; ++kh) {
      std::size_t kw0 = 0;
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t count = base + (b < longer ? 1 : 0);
        with_count<V::kGradTaps>(count, [&](auto n) {
          weight_grad_block<V, OC, decltype(n)::value>(p, x, dy, dw, oc0, c, kh, kw0);
        });
        kw0 += count;
      }
    }
  }
}

template <class V>
void weight_grad(const PackedConv& p, const float* x, const float* dy, float* dw) {
  constexpr std::size_t kBlock = V::kGradChannels;
  for (std::size_t oc0 = 0; oc0 < p.out_channels; oc0 += kBlock) {
    const std::size_t count = p.out_channels - oc0 < kBlock ? p.out_channels - oc0 : kBlock;
    with_count<V::kGradChannels>(
        count, [&](auto n) { weight_grad_channels<V, decltype(n)::value>(p, x, dy, dw, oc0); });
  }
}

}  // namespace odyssey::conv_direct

namespace odyssey::conv_direct {

// Lanes are channels but y is channel-major: the R column vectors of one channel block are
// transposed in registers, kLanes columns at a time, and stored one channel row at a time.
template <class V, int R>
void store_lanes_columns(const PackedConv& p, const typename V::Vec (&acc)[R], const float* bias,
                         float* y, std::size_t block, std::size_t oh, std::size_t ow0) {
  const std::size_t plane = p.out_h * p.out_w;
  const std::size_t oc0 = block * V::kLanes;
  const std::size_t lanes = p.out_channels - oc0 < V::kLanes ? p.out_channels - oc0 : V::kLanes;
  typename V::Vec out[R];
  for (int r = 0; r < R; ++r)
    out[r] = bias != nullptr ? V::add(acc[r], V::load(bias + oc0)) : acc[r];
  float* y_block = y + oc0 * plane + oh * p.out_w + ow0;
  for (std::size_t r0 = 0; r0 < static_cast<std::size_t>(R); r0 += V::kLanes) {
    const std::size_t count = R - r0 < V::kLanes ? R - r0 : V::kLanes;
    V::store_transposed(out + r0, count, y_block + r0, plane, lanes);
  }
}

// The channel-vectorised forward, for planes too narrow to fill vectors: the lanes are output
// channels. `w` is packed in blocks of kLanes channels, w[((block * C + c) * KH + kh) * KW + kw]
// holding kLanes weights (zero past the last channel), and `bias` (or nullptr) is padded the same
// way. R output columns x NV channel vectors accumulate; each input value is broadcast once and
// feeds NV FMAs, each weight vector R.
template <class V, int R, int NV>
void forward_lanes_block(const PackedConv& p, const float* x, const float* w, const float* bias,
                         float* y, std::size_t block0, std::size_t oh, std::size_t ow0) {
  typename V::Vec acc[R][NV];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
  }
  const std::size_t block_stride = p.channels * p.kernel_h * p.kernel_w * V::kLanes;
  const float* w_block = w + block0 * block_stride;
  const std::size_t kh_begin = p.first_kernel_row(oh), kh_end = p.end_kernel_row(oh);
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = kh_begin; kh < kh_end; kh += p.data_step) {
      const float* x_row =
          x + ((c * p.rows + oh * p.stride_h + kh) * p.stride_w) * p.row_stride + ow0;
      const float* w_row = w_block + (c * p.kernel_h + kh) * p.kernel_w * V::kLanes;
      // Column phase and shift of tap kw, stepped rather than divided out per tap.
      std::size_t phase = 0, shift = 0;
      for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
        const float* x_tap = x_row + phase * p.row_stride + shift;
        typename V::Vec wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = V::load(w_row + kw * V::kLanes + v * block_stride);
        for (int r = 0; r < R; ++r) {
          const typename V::Vec xv = V::broadcast(x_tap[r]);
          for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(wv[v], xv, acc[r][v]);
        }
        if (++phase == p.stride_w) {
          phase = 0;
          ++shift;
        }
      }
    }
  }
  for (int v = 0; v < NV; ++v) {
    typename V::Vec columns[R];
    for (int r = 0; r < R; ++r) columns[r] = acc[r][v];
    store_lanes_columns<V, R>(p, columns, bias, y, block0 + v, oh, ow0);
  }
}

template <class V, int R, int NV>
void forward_lanes_tail(std::size_t count, const PackedConv& p, const float* x, const float* w,
                        const float* bias, float* y, std::size_t block0, std::size_t oh,
                        std::size_t ow0) {
  if (count == R) {
    forward_lanes_block<V, R, NV>(p, x, w, bias, y, block0, oh, ow0);
  } else if constexpr (R > 1) {
    forward_lanes_tail<V, R - 1, NV>(count, p, x, w, bias, y, block0, oh, ow0);
  }
}

template <class V, int NV>
void forward_lanes_blocks(const PackedConv& p, const float* x, const float* w, const float* bias,
                          float* y, std::size_t block0) {
  constexpr std::size_t kColumns = V::kLanesColumns;
  for (std::size_t oh = 0; oh < p.out_h; ++oh) {
    std::size_t ow0 = 0;
    for (; ow0 + kColumns <= p.out_w; ow0 += kColumns) {
      forward_lanes_block<V, V::kLanesColumns, NV>(p, x, w, bias, y, block0, oh, ow0);
    }
    if (ow0 < p.out_w) {
      forward_lanes_tail<V, V::kLanesColumns, NV>(p.out_w - ow0, p, x, w, bias, y, block0, oh, ow0);
    }
  }
}

// Channels in the lanes for unit column steps: one block of kLanes channels, output columns
// ow0 .. ow0+R of row oh. Along a kernel row, input column j serves output column j - kw for every
// tap kw, so the row's KW weight vectors stay in registers and each broadcast input feeds up to KW
// FMAs (the general block loads one weight vector and one input per FMA). Each output still sums
// its products in (c, kh, kw) order.
template <class V, int R, int KW>
void forward_lanes_slide_block(const PackedConv& p, const float* x, const float* w,
                               const float* bias, float* y, std::size_t block, std::size_t oh,
                               std::size_t ow0) {
  typename V::Vec acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V::zero();
  const std::size_t block_stride = p.channels * p.kernel_h * KW * V::kLanes;
  const float* w_block = w + block * block_stride;
  const std::size_t kh_begin = p.first_kernel_row(oh), kh_end = p.end_kernel_row(oh);
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = kh_begin; kh < kh_end; kh += p.data_step) {
      const float* x_row = x + (c * p.rows + oh * p.stride_h + kh) * p.row_stride + ow0;
      const float* w_row = w_block + (c * p.kernel_h + kh) * KW * V::kLanes;
      typename V::Vec wv[KW];
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) wv[k] = V::load(w_row + k * V::kLanes);
#pragma GCC unroll 32
      for (int j = 0; j < R + KW - 1; ++j) {
        const typename V::Vec xv = V::broadcast(x_row[j]);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) {
          if (j - k >= 0 && j - k < R) acc[j - k] = V::fma(wv[k], xv, acc[j - k]);
        }
      }
    }
  }
  store_lanes_columns<V, R>(p, acc, bias, y, block, oh, ow0);
}

template <class V, int R, int KW>
void forward_lanes_slide_tail(std::size_t count, const PackedConv& p, const float* x,
                              const float* w, const float* bias, float* y, std::size_t block,
                              std::size_t oh, std::size_t ow0) {
  if (count == R) {
    forward_lanes_slide_block<V, R, KW>(p, x, w, bias, y, block, oh, ow0);
  } else if constexpr (R > 1) {
    forward_lanes_slide_tail<V, R - 1, KW>(count, p, x, w, bias, y, block, oh, ow0);
  }
}

template <class V, int KW>
void forward_lanes_slide(const PackedConv& p, const float* x, const float* w, const float* bias,
                         float* y) {
  constexpr std::size_t kColumns = V::kSlideColumns;
  const std::size_t blocks = (p.out_channels + V::kLanes - 1) / V::kLanes;
  for (std::size_t block = 0; block < blocks; ++block) {
    for (std::size_t oh = 0; oh < p.out_h; ++oh) {
      std::size_t ow0 = 0;
      for (; ow0 + kColumns <= p.out_w; ow0 += kColumns) {
        forward_lanes_slide_block<V, V::kSlideColumns, KW>(p, x, w, bias, y, block, oh, ow0);
      }
      if (ow0 < p.out_w) {
        forward_lanes_slide_tail<V, V::kSlideColumns, KW>(p.out_w - ow0, p, x, w, bias, y, block,
                                                          oh, ow0);
      }
    }
  }
}

template <class V>
void forward_lanes(const PackedConv& p, const float* x, const float* w, const float* bias,
                   float* y) {
  // LeNet's and ResNet's kernel widths get the sliding block; other widths and column strides the
  // general one.
  if (p.stride_w == 1 && p.kernel_w == 5) return forward_lanes_slide<V, 5>(p, x, w, bias, y);
  if (p.stride_w == 1 && p.kernel_w == 3) return forward_lanes_slide<V, 3>(p, x, w, bias, y);
  const std::size_t blocks = (p.out_channels + V::kLanes - 1) / V::kLanes;
  constexpr std::size_t kVectors = V::kLanesVectors;
  for (std::size_t block0 = 0; block0 < blocks; block0 += kVectors) {
    const std::size_t count = blocks - block0 < kVectors ? blocks - block0 : kVectors;
    with_count<V::kLanesVectors>(count, [&](auto n) {
      forward_lanes_blocks<V, decltype(n)::value>(p, x, w, bias, y, block0);
    });
  }
}

}  // namespace odyssey::conv_direct

namespace odyssey::conv_direct {

// The channel-vectorised weight gradient, for planes too narrow to fill vectors. `dy_t` is one
// sample's output gradient transposed to (position, channel) with channels zero-padded to
// `blocks` * kLanes; `dw` is blocked like forward_lanes's weights. Taps t0 .. t0+T (flattened
// (c, kh, kw)) x NV channel vectors accumulate over every output position, so each dy vector
// feeds T FMAs and each broadcast input NV, and no horizontal sums are needed.
template <class V, int T, int NV>
void weight_grad_lanes_block(const PackedConv& p, const float* x, const float* dy_t, float* dw,
                             std::size_t blocks, std::size_t block0, std::size_t t0) {
  typename V::Vec acc[T][NV];
  for (int t = 0; t < T; ++t) {
    for (int v = 0; v < NV; ++v) acc[t][v] = V::zero();
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
  const float* x_taps[T];
  for (int t = 0; t < T; ++t) {
    const std::size_t tap = t0 + t, c = tap / taps, kh = tap % taps / p.kernel_w,
                      kw = tap % p.kernel_w;
    x_taps[t] =
        x + ((c * p.rows + kh) * p.stride_w + kw % p.stride_w) * p.row_stride + kw / p.stride_w;
  }
  const std::size_t padded = blocks * V::kLanes;
  const std::size_t x_row_step = p.stride_h * p.stride_w * p.row_stride;
  for (std::size_t oh = 0; oh < p.out_h; ++oh) {
    const float* dy_row = dy_t + oh * p.out_w * padded + block0 * V::kLanes;
    const std::size_t x_offset = oh * x_row_step;
    for (std::size_t ow = 0; ow < p.out_w; ++ow) {
      typename V::Vec d[NV];
      for (int v = 0; v < NV; ++v) d[v] = V::load(dy_row + ow * padded + v * V::kLanes);
      for (int t = 0; t < T; ++t) {
        const typename V::Vec xv = V::broadcast(x_taps[t][x_offset + ow]);
        for (int v = 0; v < NV; ++v) acc[t][v] = V::fma(xv, d[v], acc[t][v]);
      }
    }
  }
  const std::size_t all_taps = p.channels * taps;
  for (int v = 0; v < NV; ++v) {
    for (int t = 0; t < T; ++t) {
      float* to = dw + ((block0 + v) * all_taps + t0 + t) * V::kLanes;
      V::store(to, V::add(V::load(to), acc[t][v]));
    }
  }
}

template <class V, int NV>
void weight_grad_lanes_blocks(const PackedConv& p, const float* x, const float* dy_t, float* dw,
                              std::size_t blocks, std::size_t block0) {
  constexpr std::size_t kTaps = V::kGradLanesTaps;
  const std::size_t all_taps = p.channels * p.kernel_h * p.kernel_w;
  for (std::size_t t0 = 0; t0 < all_taps; t0 += kTaps) {
    const std::size_t count = all_taps - t0 < kTaps ? all_taps - t0 : kTaps;
    with_count<V::kGradLanesTaps>(count, [&](auto n) {
      weight_grad_lanes_block<V, decltype(n)::value, NV>(p, x, dy_t, dw, blocks, block0, t0);
    });
  }
}

// The channel-vectorised weight gradient for unit column steps: channel block `block`, input
// channel c, kernel rows kh0 .. kh0+RB and all KW columns. Output column ow meets input column
// ow + kw under tap kw, so a window of KW broadcast inputs per kernel row slides along the row,
// one new broadcast per step: each dy vector feeds RB * KW FMAs for one load and RB broadcasts
// (the general block broadcasts one input per FMA). Sums run over (oh, ow) in order, as there.
template <class V, int RB, int KW>
void weight_grad_lanes_slide_block(const PackedConv& p, const float* x, const float* dy_t,
                                   float* dw, std::size_t blocks, std::size_t block, std::size_t c,
                                   std::size_t kh0) {
  typename V::Vec acc[RB][KW];
#pragma GCC unroll 8
  for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) acc[r][k] = V::zero();
  }
  const std::size_t padded = blocks * V::kLanes;
  for (std::size_t oh = 0; oh < p.out_h; ++oh) {
    const float* dy_row = dy_t + oh * p.out_w * padded + block * V::kLanes;
    const float* x_rows[RB];
    // window[r][k] holds input column ow + k of kernel row kh0 + r once step ow has shifted it.
    typename V::Vec window[RB][KW];
#pragma GCC unroll 8
    for (int r = 0; r < RB; ++r) {
      x_rows[r] = x + (c * p.rows + oh * p.stride_h + kh0 + r) * p.row_stride;
      window[r][0] = V::zero();
#pragma GCC unroll 8
      for (int k = 0; k + 1 < KW; ++k) window[r][k + 1] = V::broadcast(x_rows[r][k]);
    }
    for (std::size_t ow = 0; ow < p.out_w; ++ow) {
      const typename V::Vec d = V::load(dy_row + ow * padded);
#pragma GCC unroll 8
      for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < KW; ++k) window[r][k] = window[r][k + 1];
        window[r][KW - 1] = V::broadcast(x_rows[r][ow + KW - 1]);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) acc[r][k] = V::fma(window[r][k], d, acc[r][k]);
      }
    }
  }
  const std::size_t all_taps = p.channels * p.kernel_h * KW;
#pragma GCC unroll 8
  for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) {
      float* to = dw + (block * all_taps + (c * p.kernel_h + kh0 + r) * KW + k) * V::kLanes;
      V::store(to, V::add(V::load(to), acc[r][k]));
    }
  }
}

template <class V, int KW>
void weight_grad_lanes_slide(const PackedConv& p, const float* x, const float* dy_t, float* dw) {
  constexpr std::size_t kRows = V::kGradSlideRows;
  const std::size_t blocks = (p.out_channels + V::kLanes - 1) / V::kLanes;
  for (std::size_t block = 0; block < blocks; ++block) {
    for (std::size_t c = 0; c < p.channels; ++c) {
      for (std::size_t kh0 = 0; kh0 < p.kernel_h; kh0 += kRows) {
        const std::size_t count = p.kernel_h - kh0 < kRows ? p.kernel_h - kh0 : kRows;
        with_count<V::kGradSlideRows>(count, [&](auto n) {
          weight_grad_lanes_slide_block<V, decltype(n)::value, KW>(p, x, dy_t, dw, blocks, block, c,
                                                                   kh0);
        });
      }
    }
  }
}

// kLanes positions x kLanes channels at a time: vector loads along each channel's plane, an
// in-register transpose, one store per position.
template <class V>
void transpose_channels(const float* dy, std::size_t channels, std::size_t plane,
                        std::size_t padded, float* dy_t) {
  for (std::size_t i0 = 0; i0 < plane; i0 += V::kLanes) {
    const std::size_t n = plane - i0 < V::kLanes ? plane - i0 : V::kLanes;
    for (std::size_t oc0 = 0; oc0 < padded; oc0 += V::kLanes) {
      typename V::Vec rows[V::kLanes];
      for (std::size_t r = 0; r < V::kLanes; ++r) {
        const std::size_t oc = oc0 + r;
        if (oc >= channels) {
          rows[r] = V::zero();
        } else if (n == V::kLanes) {
          rows[r] = V::load(dy + oc * plane + i0);
        } else {
          rows[r] = V::load_first(dy + oc * plane + i0, n);
        }
      }
      V::store_transposed(rows, V::kLanes, dy_t + i0 * padded + oc0, padded, n);
    }
  }
}

template <class V>
void weight_grad_lanes(const PackedConv& p, const float* x, const float* dy_t, float* dw) {
  // LeNet's and ResNet's kernel widths get the sliding block; other widths and column strides the
  // general one.
  if (p.stride_w == 1 && p.kernel_w == 5) return weight_grad_lanes_slide<V, 5>(p, x, dy_t, dw);
  if (p.stride_w == 1 && p.kernel_w == 3) return weight_grad_lanes_slide<V, 3>(p, x, dy_t, dw);
  const std::size_t blocks = (p.out_channels + V::kLanes - 1) / V::kLanes;
  constexpr std::size_t kVectors = V::kGradLanesVectors;
  for (std::size_t block0 = 0; block0 < blocks; block0 += kVectors) {
    const std::size_t count = blocks - block0 < kVectors ? blocks - block0 : kVectors;
    with_count<V::kGradLanesVectors>(count, [&](auto n) {
      weight_grad_lanes_blocks<V, decltype(n)::value>(p, x, dy_t, dw, blocks, block0);
    });
  }
}

}  // namespace odyssey::conv_direct

namespace odyssey::conv_direct {

// Samples in the lanes (see BatchConv). Traits used here: V::kBatchColumns (output columns per
// register block of convolve_batch) and V::kBatchGradChannels (output channels per block of
// weight_grad_batch), and V::store_transposed.

template <class V>
void transpose_batch(const float* src, std::size_t sample, std::size_t count, std::size_t planes,
                     std::size_t h, std::size_t w, std::size_t pad_h, std::size_t pad_w,
                     float* dst) {
  const std::size_t padded_h = h + 2 * pad_h, padded_w = w + 2 * pad_w;
  for (std::size_t row = 0; row < planes * h; ++row) {
    const std::size_t plane = row / h, i = row % h;
    float* dst_row = dst + ((plane * padded_h + pad_h + i) * padded_w + pad_w) * V::kLanes;
    for (std::size_t j0 = 0; j0 < w; j0 += V::kLanes) {
      const std::size_t n = w - j0 < V::kLanes ? w - j0 : V::kLanes;
      typename V::Vec rows[V::kLanes];
      for (std::size_t l = 0; l < V::kLanes; ++l) {
        if (l >= count) {
          rows[l] = V::zero();
          continue;
        }
        const float* from = src + l * sample + row * w + j0;
        rows[l] = n == V::kLanes ? V::load(from) : V::load_first(from, n);
      }
      V::store_transposed(rows, V::kLanes, dst_row + j0 * V::kLanes, V::kLanes, n);
    }
  }
}

// Output row i, columns j0 .. j0+R of channel co. Input column j0 + pad_w - (KW - 1) + u meets
// output column j0 + r under tap kw = r + KW - 1 - u, so along a kernel row each input vector is
// loaded once and feeds up to KW FMAs with the row's KW weights held in registers. Input columns
// outside the plane are skipped (the branches do not depend on the channel or kernel row), so no
// padding zero is multiplied. Each output sums over (ci, kh) in order, then kw from KW - 1 down.
template <class V, int R, int KW>
void convolve_batch_block(const BatchConv& g, const float* in_t, const float* w, const float* bias,
                          std::size_t co, std::size_t count, float* out, std::size_t out_sample,
                          std::size_t i, std::size_t j0) {
  typename V::Vec acc[R];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r) acc[r] = V::zero();
  const long base = static_cast<long>(j0 + g.pad_w) - (KW - 1);
  const long in_w = static_cast<long>(g.in_w);
  const int u_begin = base < 0 ? static_cast<int>(-base) : 0;
  const int u_end = in_w - base < R + KW - 1 ? static_cast<int>(in_w - base) : R + KW - 1;
  // Kernel rows with i - kh + pad_h inside the input.
  const std::size_t top = i + g.pad_h;
  const std::size_t kh_begin = top >= g.in_h ? top - g.in_h + 1 : 0;
  const std::size_t kh_end = top + 1 < g.kernel_h ? top + 1 : g.kernel_h;
  const std::size_t taps = g.kernel_h * KW;
  for (std::size_t ci = 0; ci < g.in_channels; ++ci) {
    const float* w_c = w + (co * g.in_channels + ci) * taps;
    for (std::size_t kh = kh_begin; kh < kh_end; ++kh) {
      typename V::Vec wv[KW];
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) wv[k] = V::broadcast(w_c[kh * KW + k]);
      // Column `base` of the row, as an offset: base itself may be negative.
      const float* in_row = in_t + ((ci * g.in_h + top - kh) * g.in_w) * V::kLanes;
#pragma GCC unroll 32
      for (int u = 0; u < R + KW - 1; ++u) {
        if (u < u_begin || u >= u_end) continue;
        const typename V::Vec xv = V::load(in_row + static_cast<std::size_t>(base + u) * V::kLanes);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) {
          const int r = u + k - (KW - 1);
          if (r >= 0 && r < R) acc[r] = V::fma(wv[k], xv, acc[r]);
        }
      }
    }
  }
  if (bias != nullptr) {
    const typename V::Vec b = V::broadcast(bias[co]);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) acc[r] = V::add(acc[r], b);
  }
  // Lane l of acc[r] is sample l's output column j0 + r: transposed back to NCHW rows.
  float* out_row = out + (co * g.out_h + i) * g.out_w + j0;
  for (int r0 = 0; r0 < R; r0 += static_cast<int>(V::kLanes)) {
    const std::size_t rows = R - r0 < static_cast<int>(V::kLanes) ? R - r0 : V::kLanes;
    V::store_transposed(acc + r0, rows, out_row + r0, out_sample, count);
  }
}

template <class V, int R, int KW>
void convolve_batch_tail(std::size_t width, const BatchConv& g, const float* in_t, const float* w,
                         const float* bias, std::size_t co, std::size_t count, float* out,
                         std::size_t out_sample, std::size_t i, std::size_t j0) {
  if (width == R) {
    convolve_batch_block<V, R, KW>(g, in_t, w, bias, co, count, out, out_sample, i, j0);
  } else if constexpr (R > 1) {
    convolve_batch_tail<V, R - 1, KW>(width, g, in_t, w, bias, co, count, out, out_sample, i, j0);
  }
}

// Rows are cut into near-equal column blocks of at most kBatchColumns (28 -> 14 + 14).
template <class V, int KW>
void convolve_batch_rows(const BatchConv& g, const float* in_t, const float* w, const float* bias,
                         std::size_t co, std::size_t count, float* out, std::size_t out_sample) {
  constexpr std::size_t kColumns = V::kBatchColumns;
  const std::size_t blocks = (g.out_w + kColumns - 1) / kColumns;
  const std::size_t base = g.out_w / blocks, longer = g.out_w % blocks;
  for (std::size_t i = 0; i < g.out_h; ++i) {
    std::size_t j0 = 0;
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t width = base + (b < longer ? 1 : 0);
      convolve_batch_tail<V, V::kBatchColumns, KW>(width, g, in_t, w, bias, co, count, out,
                                                   out_sample, i, j0);
      j0 += width;
    }
  }
}

template <class V>
void convolve_batch(const BatchConv& g, const float* in_t, const float* w, const float* bias,
                    std::size_t co, std::size_t count, float* out, std::size_t out_sample) {
  if (g.kernel_w == 5)
    return convolve_batch_rows<V, 5>(g, in_t, w, bias, co, count, out, out_sample);
  convolve_batch_rows<V, 3>(g, in_t, w, bias, co, count, out, out_sample);
}

// dw[oc0 + o][c][kh][kw] for o < OC, every kw: along an input row a window of KW input vectors
// slides one column per output column, so each dy vector feeds KW FMAs and each input load OC * KW.
// Lane l sums sample l of every group over (group, oh, ow) in order; the lanes are added last.
template <class V, int OC, int KW>
void weight_grad_batch_block(const BatchConv& g, const float* x_t, const float* dy_t,
                             std::size_t groups, std::size_t oc0, std::size_t c, std::size_t kh,
                             float* dw) {
  typename V::Vec acc[OC][KW];
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o) {
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) acc[o][k] = V::zero();
  }
  const std::size_t padded_h = g.in_h + 2 * g.pad_h, padded_w = g.in_w + 2 * g.pad_w;
  const std::size_t x_group = g.in_channels * padded_h * padded_w * V::kLanes;
  const std::size_t plane = g.out_h * g.out_w * V::kLanes;
  const std::size_t dy_group = g.out_channels * plane;
  for (std::size_t group = 0; group < groups; ++group) {
    const float* x_g = x_t + group * x_group;
    const float* dy_g = dy_t + group * dy_group + oc0 * plane;
    for (std::size_t oh = 0; oh < g.out_h; ++oh) {
      const float* x_row = x_g + ((c * padded_h + oh + kh) * padded_w) * V::kLanes;
      const float* dy_row = dy_g + oh * g.out_w * V::kLanes;
      // window[k] holds input column ow + k once step ow has shifted it in.
      typename V::Vec window[KW];
      window[0] = V::zero();
#pragma GCC unroll 8
      for (int k = 0; k + 1 < KW; ++k) window[k + 1] = V::load(x_row + k * V::kLanes);
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < KW; ++k) window[k] = window[k + 1];
        window[KW - 1] = V::load(x_row + (ow + KW - 1) * V::kLanes);
#pragma GCC unroll 8
        for (int o = 0; o < OC; ++o) {
          const typename V::Vec d = V::load(dy_row + o * plane + ow * V::kLanes);
#pragma GCC unroll 8
          for (int k = 0; k < KW; ++k) acc[o][k] = V::fma(d, window[k], acc[o][k]);
        }
      }
    }
  }
  const std::size_t taps = g.kernel_h * KW;
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o) {
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k)
      dw[((oc0 + o) * g.in_channels + c) * taps + kh * KW + k] = V::sum(acc[o][k]);
  }
}

template <class V, int KW>
void weight_grad_batch_kw(const BatchConv& g, const float* x_t, const float* dy_t,
                          std::size_t groups, std::size_t oc0, std::size_t oc_count, std::size_t c,
                          std::size_t kh, float* dw) {
  for (std::size_t o0 = 0; o0 < oc_count; o0 += V::kBatchGradChannels) {
    const std::size_t n =
        oc_count - o0 < V::kBatchGradChannels ? oc_count - o0 : V::kBatchGradChannels;
    with_count<V::kBatchGradChannels>(n, [&](auto count) {
      weight_grad_batch_block<V, decltype(count)::value, KW>(g, x_t, dy_t, groups, oc0 + o0, c, kh,
                                                             dw);
    });
  }
}

template <class V>
void weight_grad_batch(const BatchConv& g, const float* x_t, const float* dy_t, std::size_t groups,
                       std::size_t oc0, std::size_t oc_count, std::size_t c, std::size_t kh,
                       float* dw) {
  if (g.kernel_w == 5) {
    return weight_grad_batch_kw<V, 5>(g, x_t, dy_t, groups, oc0, oc_count, c, kh, dw);
  }
  weight_grad_batch_kw<V, 3>(g, x_t, dy_t, groups, oc0, oc_count, c, kh, dw);
}

}  // namespace odyssey::conv_direct
