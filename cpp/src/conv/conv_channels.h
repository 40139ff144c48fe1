// The direct convolution with output channels in the vector lanes, for planes too narrow to fill
// them: the forward, the weight gradient and the transpose of the output gradient it reads.
// Tuning constants of V (see conv_simd.h): kLanesColumns x kLanesVectors (forward register block),
// kSlideColumns (sliding forward block, kernel widths 3 and 5), kGradLanesTaps x kGradLanesVectors
// (weight-gradient register block), kGradSlideRows (sliding weight-gradient block).
#pragma once

#include <cstddef>

#include "conv_simd.h"
#include "odyssey/conv.h"

namespace odyssey::conv_direct {

// Lanes are channels but y is channel-major: the R column vectors of one channel block are
// transposed in registers, kLanes columns at a time, and stored one channel row at a time. Always
// inlined, so the accumulators stay in registers.
template <class V, int R>
[[gnu::always_inline]] inline void store_lanes_columns(const PackedConv& p,
                                                       const typename V::T (&acc)[R],
                                                       const float* bias, float* y,
                                                       std::size_t block, std::size_t oh,
                                                       std::size_t ow0) {
  const std::size_t plane = p.out_h * p.out_w;
  const std::size_t oc0 = block * V::kLanes;
  const std::size_t lanes = p.out_channels - oc0 < V::kLanes ? p.out_channels - oc0 : V::kLanes;
  typename V::T out[R];
  for (int r = 0; r < R; ++r)
    out[r] = bias != nullptr ? V::add(acc[r], V::load(bias + oc0)) : acc[r];
  float* y_block = y + oc0 * plane + oh * p.out_w + ow0;
  for (std::size_t r0 = 0; r0 < static_cast<std::size_t>(R); r0 += V::kLanes) {
    const std::size_t count = R - r0 < V::kLanes ? R - r0 : V::kLanes;
    store_transposed<V>(out + r0, count, y_block + r0, plane, lanes);
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
  typename V::T acc[R][NV];
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
        typename V::T wv[NV];
        for (int v = 0; v < NV; ++v) wv[v] = V::load(w_row + kw * V::kLanes + v * block_stride);
        for (int r = 0; r < R; ++r) {
          const typename V::T xv = V::set1(x_tap[r]);
          for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(wv[v], xv, acc[r][v]);
        }
        if (++phase == p.stride_w) {
          phase = 0;
          ++shift;
        }
      }
    }
  }
  for (int v = 0; v < NV; ++v) {
    typename V::T columns[R];
    for (int r = 0; r < R; ++r) columns[r] = acc[r][v];
    store_lanes_columns<V, R>(p, columns, bias, y, block0 + v, oh, ow0);
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
      with_count<V::kLanesColumns>(p.out_w - ow0, [&](auto n) {
        forward_lanes_block<V, decltype(n)::value, NV>(p, x, w, bias, y, block0, oh, ow0);
      });
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
  typename V::T acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V::zero();
  const std::size_t block_stride = p.channels * p.kernel_h * KW * V::kLanes;
  const float* w_block = w + block * block_stride;
  const std::size_t kh_begin = p.first_kernel_row(oh), kh_end = p.end_kernel_row(oh);
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = kh_begin; kh < kh_end; kh += p.data_step) {
      const float* x_row = x + (c * p.rows + oh * p.stride_h + kh) * p.row_stride + ow0;
      const float* w_row = w_block + (c * p.kernel_h + kh) * KW * V::kLanes;
      typename V::T wv[KW];
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) wv[k] = V::load(w_row + k * V::kLanes);
#pragma GCC unroll 32
      for (int j = 0; j < R + KW - 1; ++j) {
        const typename V::T xv = V::set1(x_row[j]);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) {
          if (j - k >= 0 && j - k < R) acc[j - k] = V::fmadd(wv[k], xv, acc[j - k]);
        }
      }
    }
  }
  store_lanes_columns<V, R>(p, acc, bias, y, block, oh, ow0);
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
        with_count<V::kSlideColumns>(p.out_w - ow0, [&](auto n) {
          forward_lanes_slide_block<V, decltype(n)::value, KW>(p, x, w, bias, y, block, oh, ow0);
        });
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

// The channel-vectorised weight gradient, for planes too narrow to fill vectors. `dy_t` is one
// sample's output gradient transposed to (position, channel) with channels zero-padded to
// `blocks` * kLanes; `dw` is blocked like forward_lanes's weights. Taps t0 .. t0+NT (flattened
// (c, kh, kw)) x NV channel vectors accumulate over every output position, so each dy vector
// feeds NT FMAs and each broadcast input NV, and no horizontal sums are needed.
template <class V, int NT, int NV>
void weight_grad_lanes_block(const PackedConv& p, const float* x, const float* dy_t, float* dw,
                             std::size_t blocks, std::size_t block0, std::size_t t0) {
  typename V::T acc[NT][NV];
  for (int t = 0; t < NT; ++t) {
    for (int v = 0; v < NV; ++v) acc[t][v] = V::zero();
  }
  const std::size_t taps = p.kernel_h * p.kernel_w;
  const float* x_taps[NT];
  for (int t = 0; t < NT; ++t) {
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
      typename V::T d[NV];
      for (int v = 0; v < NV; ++v) d[v] = V::load(dy_row + ow * padded + v * V::kLanes);
      for (int t = 0; t < NT; ++t) {
        const typename V::T xv = V::set1(x_taps[t][x_offset + ow]);
        for (int v = 0; v < NV; ++v) acc[t][v] = V::fmadd(xv, d[v], acc[t][v]);
      }
    }
  }
  const std::size_t all_taps = p.channels * taps;
  for (int v = 0; v < NV; ++v) {
    for (int t = 0; t < NT; ++t) {
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
  typename V::T acc[RB][KW];
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
    typename V::T window[RB][KW];
#pragma GCC unroll 8
    for (int r = 0; r < RB; ++r) {
      x_rows[r] = x + (c * p.rows + oh * p.stride_h + kh0 + r) * p.row_stride;
      window[r][0] = V::zero();
#pragma GCC unroll 8
      for (int k = 0; k + 1 < KW; ++k) window[r][k + 1] = V::set1(x_rows[r][k]);
    }
    for (std::size_t ow = 0; ow < p.out_w; ++ow) {
      const typename V::T d = V::load(dy_row + ow * padded);
#pragma GCC unroll 8
      for (int r = 0; r < RB; ++r) {
#pragma GCC unroll 8
        for (int k = 0; k + 1 < KW; ++k) window[r][k] = window[r][k + 1];
        window[r][KW - 1] = V::set1(x_rows[r][ow + KW - 1]);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) acc[r][k] = V::fmadd(window[r][k], d, acc[r][k]);
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
      typename V::T rows[V::kLanes];
      for (std::size_t r = 0; r < V::kLanes; ++r) {
        const std::size_t oc = oc0 + r;
        if (oc >= channels) {
          rows[r] = V::zero();
        } else {
          rows[r] = load_part<V>(dy + oc * plane + i0, n);
        }
      }
      store_transposed<V>(rows, V::kLanes, dy_t + i0 * padded + oc0, padded, n);
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
