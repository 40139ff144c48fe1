// The direct convolution with samples in the vector lanes (see BatchConv), for stride-1 shapes
// whose planes and channel counts are both too small to fill vectors: the transpose of a group of
// samples, the convolution form (forward and input gradient) and the weight gradient. Tuning
// constants of V (see conv_simd.h): kBatchColumns (output columns per register block of
// convolve_batch) and kBatchGradChannels (output channels per block of weight_grad_batch).
#pragma once

#include <cstddef>

#include "conv_simd.h"
#include "odyssey/conv.h"

namespace odyssey::conv_direct {

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
      typename V::T rows[V::kLanes];
      for (std::size_t l = 0; l < V::kLanes; ++l) {
        if (l >= count) {
          rows[l] = V::zero();
          continue;
        }
        const float* from = src + l * sample + row * w + j0;
        rows[l] = load_part<V>(from, n);
      }
      store_transposed<V>(rows, V::kLanes, dst_row + j0 * V::kLanes, V::kLanes, n);
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
  typename V::T acc[R];
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
      typename V::T wv[KW];
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) wv[k] = V::set1(w_c[kh * KW + k]);
      // Column `base` of the row, as an offset: base itself may be negative.
      const float* in_row = in_t + ((ci * g.in_h + top - kh) * g.in_w) * V::kLanes;
#pragma GCC unroll 32
      for (int u = 0; u < R + KW - 1; ++u) {
        if (u < u_begin || u >= u_end) continue;
        const typename V::T xv = V::load(in_row + static_cast<std::size_t>(base + u) * V::kLanes);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) {
          const int r = u + k - (KW - 1);
          if (r >= 0 && r < R) acc[r] = V::fmadd(wv[k], xv, acc[r]);
        }
      }
    }
  }
  if (bias != nullptr) {
    const typename V::T b = V::set1(bias[co]);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) acc[r] = V::add(acc[r], b);
  }
  // Lane l of acc[r] is sample l's output column j0 + r: transposed back to NCHW rows.
  float* out_row = out + (co * g.out_h + i) * g.out_w + j0;
  for (int r0 = 0; r0 < R; r0 += static_cast<int>(V::kLanes)) {
    const std::size_t rows = R - r0 < static_cast<int>(V::kLanes) ? R - r0 : V::kLanes;
    store_transposed<V>(acc + r0, rows, out_row + r0, out_sample, count);
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
      with_count<V::kBatchColumns>(width, [&](auto n) {
        convolve_batch_block<V, decltype(n)::value, KW>(g, in_t, w, bias, co, count, out,
                                                        out_sample, i, j0);
      });
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
  typename V::T acc[OC][KW];
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
      typename V::T window[KW];
      window[0] = V::zero();
#pragma GCC unroll 8
      for (int k = 0; k + 1 < KW; ++k) window[k + 1] = V::load(x_row + k * V::kLanes);
      for (std::size_t ow = 0; ow < g.out_w; ++ow) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < KW; ++k) window[k] = window[k + 1];
        window[KW - 1] = V::load(x_row + (ow + KW - 1) * V::kLanes);
#pragma GCC unroll 8
        for (int o = 0; o < OC; ++o) {
          const typename V::T d = V::load(dy_row + o * plane + ow * V::kLanes);
#pragma GCC unroll 8
          for (int k = 0; k < KW; ++k) acc[o][k] = V::fmadd(d, window[k], acc[o][k]);
        }
      }
    }
  }
  const std::size_t taps = g.kernel_h * KW;
#pragma GCC unroll 8
  for (int o = 0; o < OC; ++o) {
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k)
      dw[((oc0 + o) * g.in_channels + c) * taps + kh * KW + k] = V::sum_float(acc[o][k]);
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
