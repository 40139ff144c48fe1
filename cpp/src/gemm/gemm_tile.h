// The sgemm micro-kernel written once over a lane type L (odyssey/simd/vec_<isa>.h), included by
// each ISA's translation unit: an MR x (NV * kLanes) register tile, every corner of it (m < MR
// rows, a partial last vector) a kernel of its own, chosen through a table. L is each ISA's own
// type in its own namespace, so every instantiation stays with that unit's target flags. Includes
// no standard-library header: an inline function of one, compiled for AVX2 or AVX-512, could be the
// copy the linker keeps for baseline callers.
#pragma once

#include "odyssey/gemm.h"

namespace odyssey::gemm_simd {

// The first `count` lanes at p (0 < count <= kLanes), the others zero and never touched in memory.
template <class L>
typename L::T load_part(const float* p, std::size_t count) {
  return count == L::kLanes ? L::load(p) : L::load_first(p, count);
}
template <class L>
void store_part(float* p, typename L::T v, std::size_t count) {
  if (count == L::kLanes) {
    L::store(p, v);
  } else {
    L::store_first(p, v, count);
  }
}

// acc += the tile's products over all of k. Rows of A are addressed from one pointer per group of
// three, as group[0], group[a_row] and group[2 * a_row] (base + index * 4 or 8), so a step costs
// one pointer increment per group rather than an address computation per row, whether A is a
// packed panel (a_row = 1) or its rows in place. kPartial: the last vector of B has `tail` <
// kLanes lanes (partial loads are slower than whole ones, so only edges use them; on AVX-512 a
// mask set each step would also take a slot on port 5, one of the two FMA ports).
// Always inlined: called out of line, it would take the accumulators through memory.
template <class L, int MR, int NV, bool kPartial>
[[gnu::always_inline]] inline void accumulate(const GemmTile& t, std::size_t tail,
                                              typename L::T (&acc)[MR][NV]) {
  constexpr int kGroups = (MR + 2) / 3;
  const float* group[kGroups];
#pragma GCC unroll 4
  for (int g = 0; g < kGroups; ++g) group[g] = t.a + 3 * g * t.a_row;
  const std::size_t a_row = t.a_row, a_stride = t.a_stride, b_stride = t.b_stride, k = t.k;
  const float* b = t.b;
  for (std::size_t p = 0; p < k; ++p, b += b_stride) {
    typename L::T row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      row[v] = kPartial && v == NV - 1 ? L::load_first(b + v * L::kLanes, tail)
                                       : L::load(b + v * L::kLanes);
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename L::T x = L::set1(group[i / 3][(i % 3) * a_row]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = L::fmadd(x, row[v], acc[i][v]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) group[g] += a_stride;
  }
}

// The m x (kLanes * NV) corner of the tile, for m == MR and n in (kLanes * (NV - 1), kLanes * NV],
// with kPartial == (n < kLanes * NV). The last vector of each row is accessed in part, so edge
// tiles and unpacked operands need no padding.
template <class L, int MR, int NV, bool kPartial>
void tile_of(const GemmTile& t, std::size_t tail) {
  typename L::T acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = L::zero();
  }
  accumulate<L, MR, NV, kPartial>(t, tail, acc);

  const typename L::T alpha = L::set1(t.alpha);
  const typename L::T beta = L::set1(t.beta);
  // Vector v of a row: whole, or the first `tail` lanes of the last one.
  const auto load = [tail](const float* p, int v) {
    return kPartial && v == NV - 1 ? L::load_first(p, tail) : L::load(p);
  };
  typename L::T bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    bias[v] = t.bias != nullptr ? load(t.bias + v * L::kLanes, v) : L::zero();
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* c = t.c + i * t.ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      typename L::T r = L::mul(alpha, acc[i][v]);
      if (t.beta != 0.0f) r = L::fmadd(beta, load(c + v * L::kLanes, v), r);
      if (t.bias != nullptr) r = L::add(r, bias[v]);
      if (kPartial && v == NV - 1) {
        L::store_first(c + v * L::kLanes, r, tail);
      } else {
        L::store(c + v * L::kLanes, r);
      }
    }
  }
}

template <class L, int MR, int NV>
void tile(const GemmTile& t) {
  const std::size_t tail = t.n - (NV - 1) * L::kLanes;
  if (tail == L::kLanes) {
    tile_of<L, MR, NV, false>(t, tail);
  } else {
    tile_of<L, MR, NV, true>(t, tail);
  }
}

// tile<L, m, v> at fn[m - 1][v - 1] for every corner of an MR x NV-vector tile.
template <class L, int MR, int NV>
struct TileTable {
  void (*fn[MR][NV])(const GemmTile&);
};

template <class L, int MR, int NV, int M, int V>
constexpr void fill_tiles(TileTable<L, MR, NV>& table) {
  table.fn[M - 1][V - 1] = tile<L, M, V>;
  if constexpr (V > 1) {
    fill_tiles<L, MR, NV, M, V - 1>(table);
  } else if constexpr (M > 1) {
    fill_tiles<L, MR, NV, M - 1, NV>(table);
  }
}

template <class L, int MR, int NV>
constexpr TileTable<L, MR, NV> make_tiles() {
  TileTable<L, MR, NV> table{};
  fill_tiles<L, MR, NV, MR, NV>(table);
  return table;
}

template <class L, int MR, int NV>
inline constexpr TileTable<L, MR, NV> kTiles = make_tiles<L, MR, NV>();

// The micro-kernel of GemmKernels::tile: t.m <= MR rows, t.n <= NV * kLanes columns.
template <class L, int MR, int NV>
void micro_kernel(const GemmTile& t) {
  kTiles<L, MR, NV>.fn[t.m - 1][(t.n + L::kLanes - 1) / L::kLanes - 1](t);
}

}  // namespace odyssey::gemm_simd
