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
inline constexpr float kWinogradG[6][3] = {{1.0f / 4, 0, 0},
                                           {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                           {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                           {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                           {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                           {0, 0, 1}};
inline constexpr float kWinogradAt[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

// The transposes the weight gradient runs backwards through: A (of A^T) and G^T.
inline constexpr float kWinogradA[6][4] = {{1, 0, 0, 0}, {1, 1, 1, 1},   {1, -1, 1, -1},
                                           {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};
inline constexpr float kWinogradGt[3][6] = {
    {1.0f / 4, -1.0f / 6, -1.0f / 6, 1.0f / 24, 1.0f / 24, 0},
    {0, -1.0f / 6, 1.0f / 6, 1.0f / 12, -1.0f / 12, 0},
    {0, -1.0f / 6, -1.0f / 6, 1.0f / 6, 1.0f / 6, 1}};

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

// u[e * u_stride + f] = element e of G g G^T for the 3x3 kernels g = w33[f * 9 ...], f < count,
// kLanes kernels at a time.
template <class V>
void winograd_weights(const float* w33, std::size_t count, float* u, std::size_t u_stride) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes;
  for (std::size_t f = 0; f < count; f += L) {
    const std::size_t n = count - f < L ? count - f : L;
    T g[3][3], rows[6][3], e[6][6];
    for (int k = 0; k < 9; ++k) {
      // Kernel f + l's tap k to lane l: nine strided reads per vector, a small share of the pass.
      float taps[L];
      for (std::size_t l = 0; l < L; ++l) taps[l] = l < n ? w33[(f + l) * 9 + k] : 0.0f;
      g[k / 3][k % 3] = V::load(taps);
    }
    combine_rows<V>(kWinogradG, g, rows);
    combine_columns<V>(kWinogradG, rows, e);
    for (int i = 0; i < 36; ++i) store_part<V>(u + i * u_stride + f, e[i / 6][i % 6], n);
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

// The weight gradient's view of an output-gradient tile: A dy A^T of each 4x4 tile of dy_t
// (t.channels planes of (t.rows - 2) x (t.columns - 2), lanes innermost, no padding), laid out as
// winograd_input lays out v. Summed over tiles against the transformed input, it is the gradient
// of the transformed weights.
template <class V>
void winograd_lift(const WinogradTiles& t, const float* dy_t, float* v) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes;
  const std::size_t out_h = t.rows - 2, out_w = t.columns - 2;
  for (std::size_t c = 0; c < t.channels; ++c) {
    for (std::size_t b = 0; b < t.count; ++b) {
      const std::size_t tile = t.begin + b;
      const float* corner =
          dy_t + ((c * out_h + 4 * (tile / t.tiles_w)) * out_w + 4 * (tile % t.tiles_w)) * L;
      T d[4][4], rows[6][4], e[6][6];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) d[i][j] = V::load(corner + (i * out_w + j) * L);
      }
      combine_rows<V>(kWinogradA, d, rows);
      combine_columns<V>(kWinogradA, rows, e);
      for (int i = 0; i < 6; ++i) {
        for (int j = 0; j < 6; ++j) {
          V::store(v + (((i * 6 + j) * t.channels + c) * t.count + b) * L, e[i][j]);
        }
      }
    }
  }
}

// dw[f * 9 + k] = element k of G^T m G for the 6x6 gradients m[e * m_stride + f], f < count, of
// the transformed weights: the gradient of the 3x3 kernels, kLanes kernels at a time.
template <class V>
void winograd_weights_back(const float* m, std::size_t count, std::size_t m_stride, float* dw) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes;
  for (std::size_t f = 0; f < count; f += L) {
    const std::size_t n = count - f < L ? count - f : L;
    T e[6][6], rows[3][6], g[3][3];
    for (int i = 0; i < 36; ++i) e[i / 6][i % 6] = load_part<V>(m + i * m_stride + f, n);
    combine_rows<V>(kWinogradGt, e, rows);
    combine_columns<V>(kWinogradGt, rows, g);
    for (int k = 0; k < 9; ++k) {
      // Lane l is kernel f + l's tap k: nine strided writes per vector.
      float taps[L];
      V::store(taps, g[k / 3][k % 3]);
      for (std::size_t l = 0; l < n; ++l) dw[(f + l) * 9 + k] = taps[l];
    }
  }
}

// The 4x4 output tiles A^T m A (+ bias[oc] unless bias is nullptr) of m laid out as winograd_input
// lays out v, with t.channels output channels, to y + l * sample for lanes l < samples: output
// (oc, i, j) at y[(oc * out_h + i) * out_w + j], out_w = 4 * tiles_w. Up to kLanes / 4 tiles side
// by side in a tile row are written together, so that each transpose to the samples' planes fills
// its vectors.
template <class V>
void winograd_output(const WinogradTiles& t, const float* m, const float* bias, std::size_t samples,
                     float* y, std::size_t sample) {
  using T = typename V::T;
  constexpr std::size_t L = V::kLanes, kStrip = L >= 4 ? L / 4 : 1;
  const std::size_t out_w = 4 * t.tiles_w, plane = (t.rows - 2) * out_w;
  for (std::size_t oc = 0; oc < t.channels; ++oc) {
    for (std::size_t b = 0; b < t.count;) {
      const std::size_t tile = t.begin + b, tx = tile % t.tiles_w;
      std::size_t strip = t.count - b < kStrip ? t.count - b : kStrip;
      if (t.tiles_w - tx < strip) strip = t.tiles_w - tx;
      T strip_rows[4][4 * kStrip];
      for (std::size_t s = 0; s < strip; ++s) {
        T e[6][6], rows[4][6], out[4][4];
        for (int i = 0; i < 6; ++i) {
          for (int j = 0; j < 6; ++j) {
            e[i][j] = V::load(m + (((i * 6 + j) * t.channels + oc) * t.count + b + s) * L);
          }
        }
        combine_rows<V>(kWinogradAt, e, rows);
        combine_columns<V>(kWinogradAt, rows, out);
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 4; ++j) {
            strip_rows[i][4 * s + j] =
                bias != nullptr ? V::add(out[i][j], V::set1(bias[oc])) : out[i][j];
          }
        }
      }
      float* corner = y + oc * plane + 4 * (tile / t.tiles_w) * out_w + 4 * tx;
      for (std::size_t i = 0; i < 4; ++i) {
        if constexpr (L == 1) {
          for (std::size_t j = 0; j < 4 * strip; ++j)
            V::store(corner + i * out_w + j, strip_rows[i][j]);
        } else {
          store_transposed<V>(strip_rows[i], 4 * strip, corner + i * out_w, sample, samples);
        }
      }
      b += strip;
    }
  }
}

}  // namespace odyssey::conv_direct
