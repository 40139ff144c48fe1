// AVX2+FMA micro-kernel, a 6 x 16 register tile: 12 ymm accumulators, 2 for the row of B and one
// broadcast of A fill 15 of the 16 registers. Includes no standard-library header (see
// eltwise_avx512.cc).
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
  // One pointer per row of A: the compiler keeps them in registers and indexes them all with the
  // one running offset, so A's rows in place cost the same as a packed panel.
  const float* a[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) a[i] = t.a + i * t.a_row;
  std::size_t offset = 0;
  const float* b = t.b;
  if (tail == kLanes) {
    for (std::size_t p = 0; p < t.k; ++p, offset += t.a_stride, b += t.b_stride) {
      __m256 row[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) row[v] = _mm256_loadu_ps(b + v * kLanes);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256 broadcast = _mm256_broadcast_ss(a[i] + offset);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(broadcast, row[v], acc[i][v]);
      }
    }
  } else {
    // A partial last vector: masked loads are slower than plain ones, so only edges use them.
    for (std::size_t p = 0; p < t.k; ++p, offset += t.a_stride, b += t.b_stride) {
      __m256 row[NV];
#pragma GCC unroll 4
      for (int v = 0; v + 1 < NV; ++v) row[v] = _mm256_loadu_ps(b + v * kLanes);
      row[NV - 1] = _mm256_maskload_ps(b + (NV - 1) * kLanes, last);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256 broadcast = _mm256_broadcast_ss(a[i] + offset);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(broadcast, row[v], acc[i][v]);
      }
    }
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
