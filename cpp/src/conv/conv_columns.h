// The direct convolution with output columns in the vector lanes, for planes wide enough to fill
// them: the forward (also the input gradient, run on the output gradient) and the weight gradient.
// Tuning constants of V (see conv_simd.h): kForwardChannels x kForwardVectors (forward register
// block), kPairChannels (its channels when two output rows share each input load), kGradChannels
// x kGradTaps (weight-gradient register block).
#pragma once

#include <cstddef>

#include "conv_simd.h"
#include "odyssey/conv.h"

namespace odyssey::conv_direct {

// Outputs (oc0 .. oc0+OC) x row oh x columns (ow0 .. ow0+width), width <= NV * kLanes: every
// product of a kernel tap is one broadcast weight times NV contiguous input vectors, so each
// weight load feeds NV FMAs and each input load feeds OC.
template <class V, int OC, int NV>
void forward_block(const PackedConv& p, const float* x, const float* w, const float* bias, float* y,
                   std::size_t oc0, std::size_t oh, std::size_t ow0, std::size_t width) {
  typename V::T acc[OC][NV];
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
        typename V::T xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = V::load(x_tap + v * V::kLanes);
        for (int o = 0; o < OC; ++o) {
          const typename V::T wv = V::set1(w_tap[o * w_stride + kw]);
          for (int v = 0; v < NV; ++v) acc[o][v] = V::fmadd(wv, xv[v], acc[o][v]);
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
      const typename V::T out =
          bias != nullptr ? V::add(acc[o][v], V::set1(bias[oc0 + o])) : acc[o][v];
      const std::size_t start = v * V::kLanes;
      store_part<V>(y_row + start, out, width - start);
    }
  }
}

// Output rows oh and oh + 1 of a plane no wider than one vector, for unit row steps: one vector
// per row would leave each weight broadcast feeding a single FMA, two rows feed two. The kernel
// rows of both are visited; those meeting padding for one row read its zeros.
template <class V, int OC>
void forward_two_rows(const PackedConv& p, const float* x, const float* w, const float* bias,
                      float* y, std::size_t oc0, std::size_t oh) {
  typename V::T acc[OC][2];
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
        const typename V::T upper = V::load(x_tap), lower = V::load(x_tap + row_step);
        for (int o = 0; o < OC; ++o) {
          const typename V::T wv = V::set1(w_tap[o * w_stride + kw]);
          acc[o][0] = V::fmadd(wv, upper, acc[o][0]);
          acc[o][1] = V::fmadd(wv, lower, acc[o][1]);
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
      const typename V::T out =
          bias != nullptr ? V::add(acc[o][r], V::set1(bias[oc0 + o])) : acc[o][r];
      store_part<V>(y_row + r * p.out_w, out, p.out_w);
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
      with_count<V::kForwardVectors>((width + V::kLanes - 1) / V::kLanes, [&](auto n) {
        forward_block<V, OC, decltype(n)::value>(p, x, w, bias, y, oc0, oh, ow0, width);
      });
    }
  }
}

// The taps of one input row for output rows oh (kernel row r, when kTop) and oh + 1 (kernel row
// r - 1, when kBottom) of a stride-1 plane: each input vector feeds both rows' FMAs.
template <class V, int OC, int NV, bool kTop, bool kBottom>
void forward_pair_taps(const PackedConv& p, const float* x_row, const float* w_top,
                       const float* w_bottom, std::size_t w_stride,
                       typename V::T (&acc)[2][OC][NV]) {
  std::size_t phase = 0, shift = 0;
  for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
    const float* x_tap = x_row + phase * p.row_stride + shift;
    typename V::T xv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) xv[v] = V::load(x_tap + v * V::kLanes);
#pragma GCC unroll 16
    for (int o = 0; o < OC; ++o) {
      if constexpr (kTop) {
        const typename V::T wv = V::set1(w_top[o * w_stride + kw]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[0][o][v] = V::fmadd(wv, xv[v], acc[0][o][v]);
      }
      if constexpr (kBottom) {
        const typename V::T wv = V::set1(w_bottom[o * w_stride + kw]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[1][o][v] = V::fmadd(wv, xv[v], acc[1][o][v]);
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
  typename V::T acc[2][OC][NV];
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
        const typename V::T out =
            bias != nullptr ? V::add(acc[row][o][v], V::set1(bias[oc0 + o])) : acc[row][o][v];
        const std::size_t start = v * V::kLanes;
        store_part<V>(y_row + start, out, width - start);
      }
    }
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
      with_count<V::kForwardVectors>(vectors, [&](auto n) {
        if (pair) {
          forward_pair_block<V, OC, decltype(n)::value>(p, x, w, bias, y, oc0, oh, ow0, width);
        } else {
          forward_block<V, OC, decltype(n)::value>(p, x, w, bias, y, oc0, oh, ow0, width);
        }
      });
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
  typename V::T acc[OC][KW];
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
      typename V::T d[OC];
#pragma GCC unroll 16
      for (int o = 0; o < OC; ++o) d[o] = V::load(dy_row + o * plane + ow);
#pragma GCC unroll 16
      for (int k = 0; k < KW; ++k) {
        const typename V::T xv = V::load(x_taps[k] + x_offset + ow);
#pragma GCC unroll 16
        for (int o = 0; o < OC; ++o) acc[o][k] = V::fmadd(d[o], xv, acc[o][k]);
      }
    }
    if (ow < p.out_w) {
      // Both operands masked: the input past the output width may hold an infinity that a zero
      // dy would turn into NaN.
      const std::size_t n = p.out_w - ow;
      typename V::T d[OC];
#pragma GCC unroll 16
      for (int o = 0; o < OC; ++o) d[o] = load_part<V>(dy_row + o * plane + ow, n);
#pragma GCC unroll 16
      for (int k = 0; k < KW; ++k) {
        const typename V::T xv = load_part<V>(x_taps[k] + x_offset + ow, n);
#pragma GCC unroll 16
        for (int o = 0; o < OC; ++o) acc[o][k] = V::fmadd(d[o], xv, acc[o][k]);
      }
    }
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
#pragma GCC unroll 16
  for (int o = 0; o < OC; ++o) {
    float* dw_row = dw + ((oc0 + o) * p.channels + c) * taps + kh * p.kernel_w + kw0;
#pragma GCC unroll 16
    for (int k = 0; k < KW; ++k) dw_row[k] += V::sum_float(acc[o][k]);
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
