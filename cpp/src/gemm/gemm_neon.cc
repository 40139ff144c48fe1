// NEON micro-kernel, an 8 x 12 register tile: 24 q-register accumulators, 3 for the row of B and
// the broadcasts of A within the 32 registers. Includes no standard-library header, like the x86
// variants, although NEON is part of the AArch64 baseline.
#include <arm_neon.h>

#include "odyssey/gemm.h"

namespace odyssey::neon {
namespace {

constexpr int kLanes = 4;
constexpr int kMr = 8;
constexpr int kNv = 3;  // vectors per row of the tile

// NEON has no masked access: the partial last vector of a row (count < 4 lanes) goes lane by lane,
// so an unpacked operand at the edge of its matrix is never read or written past its end.
float32x4_t load_partial(const float* p, unsigned count) {
  float32x4_t v = vdupq_n_f32(0.0f);
  v = vld1q_lane_f32(p, v, 0);
  if (count > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (count > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}

void store_partial(float* p, float32x4_t v, unsigned count) {
  vst1q_lane_f32(p, v, 0);
  if (count > 1) vst1q_lane_f32(p + 1, v, 1);
  if (count > 2) vst1q_lane_f32(p + 2, v, 2);
}

float32x4_t load(const float* p, unsigned count) {
  return count == kLanes ? vld1q_f32(p) : load_partial(p, count);
}

// acc += the tile's products over all of k. Rows of A are addressed from one pointer per group of
// three (group[0], group[a_row], group[2 * a_row]), so a step costs one pointer increment per
// group rather than an address computation per row. kPartial: the last vector of B is partial.
template <int MR, int NV, bool kPartial>
void accumulate(const GemmTile& t, unsigned tail, float32x4_t (&acc)[MR][NV]) {
  constexpr int kGroups = (MR + 2) / 3;
  const float* group[kGroups];
#pragma GCC unroll 4
  for (int g = 0; g < kGroups; ++g) group[g] = t.a + 3 * g * t.a_row;
  const std::size_t a_row = t.a_row, a_stride = t.a_stride, b_stride = t.b_stride, k = t.k;
  const float* b = t.b;
  for (std::size_t p = 0; p < k; ++p, b += b_stride) {
    float32x4_t row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      row[v] =
          kPartial && v == NV - 1 ? load_partial(b + v * kLanes, tail) : vld1q_f32(b + v * kLanes);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const float x = group[i / 3][(i % 3) * a_row];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = vfmaq_n_f32(acc[i][v], row[v], x);
    }
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) group[g] += a_stride;
  }
}

// The m x (4 * NV) corner of the tile, for m == MR and n in (4 * (NV - 1), 4 * NV].
template <int MR, int NV>
void tile(const GemmTile& t) {
  float32x4_t acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = vdupq_n_f32(0.0f);
  }
  const unsigned tail = static_cast<unsigned>(t.n) - (NV - 1) * kLanes;
  if (tail == kLanes) {
    accumulate<MR, NV, false>(t, tail, acc);
  } else {
    accumulate<MR, NV, true>(t, tail, acc);
  }

  const float32x4_t beta = vdupq_n_f32(t.beta);
  float32x4_t bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const unsigned count = v + 1 < NV ? kLanes : tail;
    bias[v] = t.bias != nullptr ? load(t.bias + v * kLanes, count) : vdupq_n_f32(0.0f);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const unsigned count = v + 1 < NV ? kLanes : tail;
      float32x4_t r = vmulq_n_f32(acc[i][v], t.alpha);
      if (t.beta != 0.0f) r = vfmaq_f32(r, beta, load(c + v * kLanes, count));
      if (t.bias != nullptr) r = vaddq_f32(r, bias[v]);
      if (count == kLanes) {
        vst1q_f32(c + v * kLanes, r);
      } else {
        store_partial(c + v * kLanes, r, count);
      }
    }
  }
}

using TileKernel = void (*)(const GemmTile&);

#define ODYSSEY_TILE_ROW(m) {tile<m, 1>, tile<m, 2>, tile<m, 3>}
constexpr TileKernel kTiles[kMr][kNv] = {
    ODYSSEY_TILE_ROW(1), ODYSSEY_TILE_ROW(2), ODYSSEY_TILE_ROW(3), ODYSSEY_TILE_ROW(4),
    ODYSSEY_TILE_ROW(5), ODYSSEY_TILE_ROW(6), ODYSSEY_TILE_ROW(7), ODYSSEY_TILE_ROW(8)};
#undef ODYSSEY_TILE_ROW

void sgemm_ukernel_8x12_neon(const GemmTile& t) {
  kTiles[t.m - 1][(t.n + kLanes - 1) / kLanes - 1](t);
}

}  // namespace

const GemmKernels kGemm{kMr, kNv * kLanes, sgemm_ukernel_8x12_neon, nullptr, nullptr};

}  // namespace odyssey::neon
