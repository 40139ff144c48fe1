// AVX2+FMA micro-kernel, a 6 x 16 register tile: 12 ymm accumulators, 2 for the row of B and one
// broadcast of A fill 15 of the 16 registers. Includes no standard-library header: an inline
// function of one, compiled here for AVX2, could be the copy the linker keeps for baseline callers.
#include <immintrin.h>

#include "odyssey/gemm.h"

namespace odyssey::avx2 {
namespace {

constexpr int kLanes = 8;
constexpr int kMr = 6;
constexpr int kNv = 2;  // vectors per row of the tile

// Lanes [0, count) set, for maskload/maskstore.
__m256i first_lanes(unsigned count) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), index);
}

// acc += the tile's products over all of k. Rows of A are addressed from one pointer per group of
// three, as group[0], group[a_row] and group[2 * a_row] (base + index * 4 or 8), so a step costs
// one pointer increment per group rather than an address computation per row, whether A is a
// packed panel (a_row = 1) or its rows in place. kMasked: the last vector of B is partial
// (masked loads are slower than plain ones, so only edges use them).
template <int MR, int NV, bool kMasked>
void accumulate(const GemmTile& t, __m256i last, __m256 (&acc)[MR][NV]) {
  constexpr int kGroups = (MR + 2) / 3;
  const float* group[kGroups];
#pragma GCC unroll 4
  for (int g = 0; g < kGroups; ++g) group[g] = t.a + 3 * g * t.a_row;
  const std::size_t a_row = t.a_row, a_stride = t.a_stride, b_stride = t.b_stride, k = t.k;
  const float* b = t.b;
  for (std::size_t p = 0; p < k; ++p, b += b_stride) {
    __m256 row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      row[v] = kMasked && v == NV - 1 ? _mm256_maskload_ps(b + v * kLanes, last)
                                      : _mm256_loadu_ps(b + v * kLanes);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 broadcast = _mm256_broadcast_ss(group[i / 3] + (i % 3) * a_row);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(broadcast, row[v], acc[i][v]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) group[g] += a_stride;
  }
}

// The m x (8 * NV) corner of the tile, for m == MR and n in (8 * (NV - 1), 8 * NV]. The last
// vector of each row is accessed under a mask, so edge tiles and unpacked operands need no padding.
template <int MR, int NV>
void tile(const GemmTile& t) {
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  const unsigned tail = static_cast<unsigned>(t.n) - (NV - 1) * kLanes;
  const __m256i last = first_lanes(tail);
  const __m256i all = _mm256_set1_epi32(-1);
  if (tail == kLanes) {
    accumulate<MR, NV, false>(t, last, acc);
  } else {
    accumulate<MR, NV, true>(t, last, acc);
  }

  const __m256 alpha = _mm256_set1_ps(t.alpha);
  const __m256 beta = _mm256_set1_ps(t.beta);
  __m256 bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m256i mask = v + 1 < NV ? all : last;
    bias[v] =
        t.bias != nullptr ? _mm256_maskload_ps(t.bias + v * kLanes, mask) : _mm256_setzero_ps();
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m256i mask = v + 1 < NV ? all : last;
      __m256 r = _mm256_mul_ps(alpha, acc[i][v]);
      if (t.beta != 0.0f) r = _mm256_fmadd_ps(beta, _mm256_maskload_ps(c + v * kLanes, mask), r);
      if (t.bias != nullptr) r = _mm256_add_ps(r, bias[v]);
      _mm256_maskstore_ps(c + v * kLanes, mask, r);
    }
  }
}

using TileKernel = void (*)(const GemmTile&);

#define ODYSSEY_TILE_ROW(m) {tile<m, 1>, tile<m, 2>}
constexpr TileKernel kTiles[kMr][kNv] = {ODYSSEY_TILE_ROW(1), ODYSSEY_TILE_ROW(2),
                                         ODYSSEY_TILE_ROW(3), ODYSSEY_TILE_ROW(4),
                                         ODYSSEY_TILE_ROW(5), ODYSSEY_TILE_ROW(6)};
#undef ODYSSEY_TILE_ROW

void sgemm_ukernel_6x16_avx2(const GemmTile& t) {
  kTiles[t.m - 1][(t.n + kLanes - 1) / kLanes - 1](t);
}

}  // namespace

const GemmKernels kGemm{kMr, kNv * kLanes, sgemm_ukernel_6x16_avx2, nullptr, nullptr};

}  // namespace odyssey::avx2
