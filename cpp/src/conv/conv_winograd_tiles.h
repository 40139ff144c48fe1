// Winograd F(4x4, 3x3) tile transforms with samples in the vector lanes (WinogradTiles in conv.h):
// a 6x6 input tile becomes 36 values whose products with the transformed weights, summed over the
// input channels by sgemm, give a 4x4 output tile through the output transform. Every value is a
// vector of samples, so each transform is a fixed sequence of lane-wise multiplies and adds: the
// bits do not depend on where a tile sits in memory. Written once over V; the scalar reference is
// the same code over a one-lane V (conv_scalar.cc).
#pragma once

#include <cstddef>

#include "conv_simd.h"
#include "odyssey/conv.h"

namespace odyssey::conv_direct {

// Lavin and Gray's F(4x4, 3x3) matrices on the points 0, 1, -1, 2, -2 and infinity: the input
// transform B^T, the weight transform G and the output transform A^T.
inline constexpr float kWinogradBt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                            {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                            {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
inline constexpr double kWinogradG[6][3] = {{1.0 / 4, 0, 0},
                                            {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                            {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                            {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                            {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                            {0, 0, 1}};
inline constexpr float kWinogradAt[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

// out[i][j] = sum over k of m[i][k] * in[k][j] (combine_rows) or in[i][k] * m[j][k]
// (combine_columns), the terms with a zero coefficient left out and the others added in k order;
// unrolled, so the coefficients are constants and a coefficient of 1 costs no multiply.
template <class V, int R, int K, int C>
[[gnu::always_inline]] inline void combine_rows(const float (&m)[R][K],
                                                const typename V::T (&in)[K][C],
                                                typename V::T (&out)[R][C]) {
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      typename V::T acc = V::zero();
      bool first = true;
#pragma GCC unroll 8
      for (int k = 0; k < K; ++k) {
        if (m[i][k] == 0.0f) continue;
        const typename V::T term = m[i][k] == 1.0f ? in[k][j] : V::mul(V::set1(m[i][k]), in[k][j]);
        acc = first ? term : V::add(acc, term);
        first = false;
      }
      out[i][j] = acc;
    }
  }
}

template <class V, int R, int K, int C>
[[gnu::always_inline]] inline void combine_columns(const float (&m)[C][K],
                                                   const typename V::T (&in)[R][K],
                                                   typename V::T (&out)[R][C]) {
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      typename V::T acc = V::zero();
      bool first = true;
#pragma GCC unroll 8
      for (int k = 0; k < K; ++k) {
        if (m[j][k] == 0.0f) continue;
        const typename V::T term = m[j][k] == 1.0f ? in[i][k] : V::mul(V::set1(m[j][k]), in[i][k]);
        acc = first ? term : V::add(acc, term);
        first = false;
      }
      out[i][j] = acc;
    }
  }
}

// v[((e * channels + c) * t.count + b) * kLanes] = element e of B^T d B for tile t.begin + b of
// channel c, d the 6x6 window at row 4 * (tile / tiles_w), column 4 * (tile % tiles_w) of x_t.
template <class V>
void winograd_input(const WinogradTiles& t, const float* x_t, float* v) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes;
  for (std::size_t c = 0; c < t.channels; ++c) {
    for (std::size_t b = 0; b < t.count; ++b) {
      const std::size_t tile = t.begin + b;
      const float* window =
          x_t + ((c * t.rows + 4 * (tile / t.tiles_w)) * t.columns + 4 * (tile % t.tiles_w)) * L;
      T d[6][6], rows[6][6], e[6][6];
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) d[i][j] = V::load(window + (i * t.columns + j) * L);
      }
      combine_rows<V>(kWinogradBt, d, rows);
      combine_columns<V>(kWinogradBt, rows, e);
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          V::store(v + (((i * 6 + j) * t.channels + c) * t.count + b) * L, e[i][j]);
        }
      }
    }
  }
}

// The 4x4 output tiles A^T m A (+ bias[oc] unless bias is nullptr) of m laid out as winograd_input
// lays out v, with t.channels output channels, to y + l * sample for lanes l < samples: output
// (oc, i, j) at y[(oc * out_h + i) * out_w + j], out_w = 4 * tiles_w.
template <class V>
void winograd_output(const WinogradTiles& t, const float* m, const float* bias, std::size_t samples,
                     float* y, std::size_t sample) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes;
  const std::size_t out_w = 4 * t.tiles_w, plane = (t.rows - 2) * out_w;
  for (std::size_t oc = 0; oc < t.channels; ++oc) {
    for (std::size_t b = 0; b < t.count; ++b) {
      const std::size_t tile = t.begin + b;
      T e[6][6], rows[4][6], out[4][4];
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          e[i][j] = V::load(m + (((i * 6 + j) * t.channels + oc) * t.count + b) * L);
        }
      }
      combine_rows<V>(kWinogradAt, e, rows);
      combine_columns<V>(kWinogradAt, rows, out);
      float* corner = y + oc * plane + 4 * (tile / t.tiles_w) * out_w + 4 * (tile % t.tiles_w);
      for (int i = 0; i < 4; ++i) {
        if (bias != nullptr) {
          for (int j = 0; j < 4; ++j) out[i][j] = V::add(out[i][j], V::set1(bias[oc]));
        }
        if constexpr (L == 1) {
          for (int j = 0; j < 4; ++j) V::store(corner + i * out_w + j, out[i][j]);
        } else {
          store_transposed<V>(out[i], 4, corner + i * out_w, sample, samples);
        }
      }
    }
  }
}

}  // namespace odyssey::conv_direct
