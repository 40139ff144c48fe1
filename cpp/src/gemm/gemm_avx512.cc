// AVX-512F micro-kernel, a 12 x 32 register tile: 24 zmm accumulators, 2 for the row of B and one
// broadcast of A leave 5 of the 32 registers free. Per step of k it loads 2 vectors of B and 12
// scalars of A for 24 FMAs, within the two loads per cycle that keep both FMA units busy.
// Includes no standard-library header: an inline function of one, compiled here for AVX-512,
// could be the copy the linker keeps for callers built for the baseline.
#include <immintrin.h>

#include "odyssey/gemm.h"

namespace odyssey::avx512 {
namespace {

constexpr int kLanes = 16;
constexpr int kMr = 12;
constexpr int kNv = 2;  // vectors per row of the tile

// acc += the tile's products over all of k. Rows of A are addressed from one pointer per group of
// three, as group[0], group[a_row] and group[2 * a_row] (base + index * 4 or 8), so a step costs
// one pointer increment per group rather than an address computation per row, whether A is a
// packed panel (a_row = 1) or its rows in place. kMasked: the last vector of B is partial.
template <int MR, int NV, bool kMasked>
void accumulate(const GemmTile& t, __mmask16 last, __m512 (&acc)[MR][NV]) {
  constexpr int kGroups = (MR + 2) / 3;
  const float* group[kGroups];
#pragma GCC unroll 4
  for (int g = 0; g < kGroups; ++g) group[g] = t.a + 3 * g * t.a_row;
  const std::size_t a_row = t.a_row, a_stride = t.a_stride, b_stride = t.b_stride, k = t.k;
  const float* b = t.b;
  for (std::size_t p = 0; p < k; ++p, b += b_stride) {
    __m512 row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      row[v] = kMasked && v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + v * kLanes)
                                      : _mm512_loadu_ps(b + v * kLanes);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 broadcast = _mm512_set1_ps(group[i / 3][(i % 3) * a_row]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(broadcast, row[v], acc[i][v]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) group[g] += a_stride;
  }
}

// The m x (16 * NV) corner of the tile, for m == MR and n in (16 * (NV - 1), 16 * NV]. The last
// vector of each row is loaded and stored under a mask, so edge tiles and unpacked operands need
// no padding.
template <int MR, int NV>
void tile(const GemmTile& t) {
  __m512 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const unsigned tail = static_cast<unsigned>(t.n) - (NV - 1) * kLanes;
  const __mmask16 last = static_cast<__mmask16>((1u << tail) - 1u);
  // A full tile loads B without a mask: setting the mask register each step would take a slot on
  // port 5, one of the two FMA ports.
  if (tail == kLanes) {
    accumulate<MR, NV, false>(t, last, acc);
  } else {
    accumulate<MR, NV, true>(t, last, acc);
  }

  const __m512 alpha = _mm512_set1_ps(t.alpha);
  const __m512 beta = _mm512_set1_ps(t.beta);
  __m512 bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __mmask16 mask = v + 1 < NV ? static_cast<__mmask16>(0xFFFF) : last;
    bias[v] =
        t.bias != nullptr ? _mm512_maskz_loadu_ps(mask, t.bias + v * kLanes) : _mm512_setzero_ps();
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v + 1 < NV ? static_cast<__mmask16>(0xFFFF) : last;
      __m512 r = _mm512_mul_ps(alpha, acc[i][v]);
      if (t.beta != 0.0f) r = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask, c + v * kLanes), r);
      if (t.bias != nullptr) r = _mm512_add_ps(r, bias[v]);
      _mm512_mask_storeu_ps(c + v * kLanes, mask, r);
    }
  }
}

using TileKernel = void (*)(const GemmTile&);

#define ODYSSEY_TILE_ROW(m) {tile<m, 1>, tile<m, 2>}
constexpr TileKernel kTiles[kMr][kNv] = {
    ODYSSEY_TILE_ROW(1), ODYSSEY_TILE_ROW(2),  ODYSSEY_TILE_ROW(3),  ODYSSEY_TILE_ROW(4),
    ODYSSEY_TILE_ROW(5), ODYSSEY_TILE_ROW(6),  ODYSSEY_TILE_ROW(7),  ODYSSEY_TILE_ROW(8),
    ODYSSEY_TILE_ROW(9), ODYSSEY_TILE_ROW(10), ODYSSEY_TILE_ROW(11), ODYSSEY_TILE_ROW(12)};
#undef ODYSSEY_TILE_ROW

void sgemm_ukernel_12x32_avx512(const GemmTile& t) {
  kTiles[t.m - 1][(t.n + kLanes - 1) / kLanes - 1](t);
}

__mmask16 first_lanes(std::size_t count) {  // count <= 16
  return static_cast<__mmask16>((1u << count) - 1u);
}

// r[c] = column c of the 16 x 16 block in r: pairs, then quads within 128-bit lanes, then lanes.
void transpose_16x16(__m512 r[16]) {
  __m512 a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    const __m512d a0 = _mm512_castps_pd(a[g]), a1 = _mm512_castps_pd(a[g + 1]);
    const __m512d a2 = _mm512_castps_pd(a[g + 2]), a3 = _mm512_castps_pd(a[g + 3]);
    b[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    b[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    b[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    b[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  for (int q = 0; q < 4; ++q) {
    const __m512 x0 = _mm512_shuffle_f32x4(b[q], b[4 + q], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(b[q], b[4 + q], 0xEE);
    const __m512 y0 = _mm512_shuffle_f32x4(b[8 + q], b[12 + q], 0x44);
    const __m512 y1 = _mm512_shuffle_f32x4(b[8 + q], b[12 + q], 0xEE);
    r[q] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
  }
}

// 16 x 16 blocks through registers: rows past the end load as zeros and columns past it are not
// read, so nothing outside the block is touched.
void pack_transposed(const float* src, std::size_t ld, std::size_t rows, std::size_t cols,
                     float* dst, std::size_t dst_stride) {
  for (std::size_t r0 = 0; r0 < rows; r0 += kLanes) {
    const std::size_t height = rows - r0 < kLanes ? rows - r0 : kLanes;
    const __mmask16 row_mask = first_lanes(height);
    for (std::size_t c0 = 0; c0 < cols; c0 += kLanes) {
      const std::size_t width = cols - c0 < kLanes ? cols - c0 : kLanes;
      const __mmask16 col_mask = first_lanes(width);
      __m512 block[16];
      for (std::size_t r = 0; r < 16; ++r) {
        block[r] = r < height ? _mm512_maskz_loadu_ps(col_mask, src + (r0 + r) * ld + c0)
                              : _mm512_setzero_ps();
      }
      transpose_16x16(block);
      for (std::size_t c = 0; c < width; ++c) {
        _mm512_mask_storeu_ps(dst + (c0 + c) * dst_stride + r0, row_mask, block[c]);
      }
    }
  }
}

// The panels of a wide operand are packed left to right, each row of a panel a short run far from
// the next row's, more runs than the hardware prefetchers track: each row also prefetches the run
// the next panel will copy, so its misses overlap with this panel's tiles.
void pack_copy(const float* src, std::size_t ld, std::size_t rows, std::size_t cols, float* dst,
               std::size_t dst_stride) {
  for (std::size_t r = 0; r < rows; ++r, src += ld, dst += dst_stride) {
    for (std::size_t c = 0; c < cols; c += kLanes) {
      _mm_prefetch(reinterpret_cast<const char*>(src + cols + c), _MM_HINT_T0);
    }
    std::size_t c = 0;
    for (; c + kLanes <= cols; c += kLanes) _mm512_storeu_ps(dst + c, _mm512_loadu_ps(src + c));
    if (c < cols) {
      const __mmask16 mask = first_lanes(cols - c);
      _mm512_mask_storeu_ps(dst + c, mask, _mm512_maskz_loadu_ps(mask, src + c));
    }
  }
}

}  // namespace

const GemmKernels kGemm{kMr, kNv * kLanes, sgemm_ukernel_12x32_avx512, pack_transposed, pack_copy};

}  // namespace odyssey::avx512
