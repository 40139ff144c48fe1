// The plane-level 2x2 stride-2 kernels of PoolKernels: the row loop over a row kernel, and the SIMD
// row kernels written once over a lane type V (odyssey/simd/vec_*.h); each pool_<isa>.cc
// instantiates them with its own V and tuning. The row loop lives inside the ISA's translation
// unit, so the row kernel is inlined and its constants are set up once per plane instead of once
// per row (LeNet's planes have rows of 5 and 14 outputs, where that setup rivals the work).
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"

namespace odyssey::pool_rows {
// Internal linkage: each translation unit keeps its own instances, compiled for its ISA.
namespace {

// Row(top, in_w, out_w, top_index, relu, y, argmax) pools one output row.
template <auto Row>
void max_2x2_rows(const float* top, std::size_t in_w, std::size_t out_w, std::size_t rows,
                  std::int32_t top_index, bool relu, float* y, std::int32_t* argmax) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t skip = 2 * r * in_w;
    Row(top + skip, in_w, out_w, top_index + static_cast<std::int32_t>(skip), relu, y + r * out_w,
        argmax + r * out_w);
  }
}

// Row(dy, argmax, out_w, top_index, in_w, top) writes one row's gradient into two input rows.
template <auto Row>
void max_2x2_backward_rows(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                           std::size_t rows, std::int32_t top_index, std::size_t in_w, float* top) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t skip = 2 * r * in_w;
    Row(dy + r * out_w, argmax + r * out_w, out_w, top_index + static_cast<std::int32_t>(skip),
        in_w, top + skip);
  }
}

// The SIMD rows: kLanes outputs a step, from 2 kLanes input columns of each row. Tuning::
// kMaskedTail: the row end is one masked step (cheap masked loads and stores), else it goes
// through the scalar reference.

// The lanes of a vector that starts `start` columns into a run of `count` columns that fall
// inside the run.
template <class V>
typename V::Mask columns_from(std::size_t start, std::size_t count) {
  return V::mask_first(count > start ? count - start : 0);
}

// The even and odd columns of p[0 .. 2n), n <= kLanes; with kTail, the lanes past them are zero
// and no memory past p[2n) is touched.
template <class V, bool kTail>
void load_columns(const float* p, std::size_t n, typename V::T& even, typename V::T& odd) {
  if constexpr (kTail) {
    V::deinterleave(V::load_mask(p, columns_from<V>(0, 2 * n)),
                    V::load_mask(p + V::kLanes, columns_from<V>(V::kLanes, 2 * n)), even, odd);
  } else {
    V::load_deinterleave(p, even, odd);
  }
}

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
template <class V>
void take_larger(typename V::T& best, typename V::I& index, typename V::T v,
                 typename V::I v_index) {
  const typename V::Mask take = V::mask_or(V::cmp_gt(v, best), V::is_nan(v));
  best = V::select(take, v, best);
  index = V::iselect(take, v_index, index);
}

// n outputs (all kLanes unless kTail) of the windows whose top-left corners are top[0, 2, ...];
// `at` holds their plane indices.
template <class V, bool kTail>
void max_2x2_step(const float* top, std::size_t in_w, std::size_t n, typename V::I at,
                  typename V::I row, bool relu, float* y, std::int32_t* argmax) {
  using T = typename V::T;
  using I = typename V::I;
  T t_even, t_odd, b_even, b_odd;
  load_columns<V, kTail>(top, n, t_even, t_odd);
  load_columns<V, kTail>(top + in_w, n, b_even, b_odd);
  const I one = V::iset1(1), below = V::iadd(at, row);
  T best = t_even;
  I index = at;
  take_larger<V>(best, index, t_odd, V::iadd(at, one));
  take_larger<V>(best, index, b_even, below);
  take_larger<V>(best, index, b_odd, V::iadd(below, one));
  if (relu) {  // dead where best <= 0 (false for NaN)
    // A dead window holds no NaN and nothing > 0, so its relu'd values are all zeros and the
    // separate max-pool keeps the first: relu(t_even), which is t_even where t_even >= 0 (-0.0
    // stays -0.0, as relu leaves it) and +0.0 below.
    const typename V::Mask dead = V::cmp_le(best, V::zero());
    const T first = V::select(V::cmp_le(V::zero(), t_even), t_even, V::zero());
    best = V::select(dead, first, best);
    index = V::iselect(dead, V::iset1(0xFFFFFFFFu), index);
  }
  if constexpr (kTail) {
    V::store_mask(y, best, V::mask_first(n));
    V::istore_mask(argmax, index, V::mask_first(n));
  } else {
    V::store(y, best);
    V::istore(argmax, index);
  }
}

template <class V, class Tuning>
void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 bool relu, float* y, std::int32_t* argmax) {
  constexpr std::size_t kLanes = V::kLanes;
  const typename V::I even_columns = V::iadd(V::iiota(), V::iiota());
  const typename V::I row = V::iset1(static_cast<std::uint32_t>(in_w));
  const auto at = [&](std::size_t i) {
    return V::iadd(
        V::iset1(static_cast<std::uint32_t>(top_index + 2 * static_cast<std::int32_t>(i))),
        even_columns);
  };
  std::size_t i = 0;
  for (; i + kLanes <= out_w; i += kLanes) {
    max_2x2_step<V, false>(top + 2 * i, in_w, kLanes, at(i), row, relu, y + i, argmax + i);
  }
  if (i == out_w) return;
  if constexpr (Tuning::kMaskedTail) {
    max_2x2_step<V, true>(top + 2 * i, in_w, out_w - i, at(i), row, relu, y + i, argmax + i);
  } else {
    scalar::kPool.max_2x2_rows(top + 2 * i, in_w, out_w - i, 1,
                               top_index + 2 * static_cast<std::int32_t>(i), relu, y + i,
                               argmax + i);
  }
}

// n outputs' gradients and argmaxes (all kLanes unless kTail), each duplicated into the two lanes
// of its window's columns, compared with the 2 kLanes columns' plane indices of each row; `here`
// holds the plane indices of the first kLanes columns of the top row.
template <class V, bool kTail>
void max_2x2_backward_step(const float* dy, const std::int32_t* argmax, std::size_t n,
                           typename V::I here, typename V::I row, std::size_t in_w, float* top) {
  using T = typename V::T;
  using I = typename V::I;
  T g;
  I at;
  if constexpr (kTail) {
    g = V::add(V::zero(), V::load_mask(dy, V::mask_first(n)));
    at = V::iload_mask(argmax, V::mask_first(n));
  } else {
    g = V::add(V::zero(), V::load(dy));
    at = V::iload(argmax);
  }
  T g_low, g_high;
  I at_low, at_high;
  V::duplicate_lanes(g, g_low, g_high);
  V::iduplicate_lanes(at, at_low, at_high);
  const I here_high = V::iadd(here, V::iset1(static_cast<std::uint32_t>(V::kLanes)));
  const T columns[4] = {V::keep_mask(g_low, V::ieq(at_low, here)),
                        V::keep_mask(g_high, V::ieq(at_high, here_high)),
                        V::keep_mask(g_low, V::ieq(at_low, V::iadd(here, row))),
                        V::keep_mask(g_high, V::ieq(at_high, V::iadd(here_high, row)))};
  float* const to[4] = {top, top + V::kLanes, top + in_w, top + in_w + V::kLanes};
  for (int k = 0; k < 4; ++k) {
    if constexpr (kTail) {
      V::store_mask(to[k], columns[k], columns_from<V>(k % 2 == 0 ? 0 : V::kLanes, 2 * n));
    } else {
      V::store(to[k], columns[k]);
    }
  }
}

template <class V, class Tuning>
void max_2x2_backward_row(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                          std::int32_t top_index, std::size_t in_w, float* top) {
  constexpr std::size_t kLanes = V::kLanes;
  const typename V::I row = V::iset1(static_cast<std::uint32_t>(in_w));
  const auto here = [&](std::size_t i) {
    return V::iadd(
        V::iset1(static_cast<std::uint32_t>(top_index + 2 * static_cast<std::int32_t>(i))),
        V::iiota());
  };
  std::size_t i = 0;
  for (; i + kLanes <= out_w; i += kLanes) {
    max_2x2_backward_step<V, false>(dy + i, argmax + i, kLanes, here(i), row, in_w, top + 2 * i);
  }
  if (i == out_w) return;
  if constexpr (Tuning::kMaskedTail) {
    max_2x2_backward_step<V, true>(dy + i, argmax + i, out_w - i, here(i), row, in_w, top + 2 * i);
  } else {
    scalar::kPool.max_2x2_backward_rows(dy + i, argmax + i, out_w - i, 1,
                                        top_index + 2 * static_cast<std::int32_t>(i), in_w,
                                        top + 2 * i);
  }
}

// The SIMD table on V's lanes.
template <class V, class Tuning>
constexpr PoolKernels pool_kernels_for() {
  return PoolKernels{
      .max_2x2_rows = max_2x2_rows<max_2x2_row<V, Tuning>>,
      .max_2x2_backward_rows = max_2x2_backward_rows<max_2x2_backward_row<V, Tuning>>,
  };
}

}  // namespace
}  // namespace odyssey::pool_rows
