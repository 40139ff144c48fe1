// AVX-512 2x2 stride-2 max pooling for narrow planes (LeNet's second pool: rows of 10 inputs, 5
// outputs): when a plane's rows are exactly 2 out_w wide, the input of consecutive output rows is
// one contiguous run, so up to 16 / out_w rows go into one vector instead of one row filling a
// third of it. Each output still sees its window in (top-left, top-right, bottom-left,
// bottom-right) order with the row kernels' rules, so the bits are those of the scalar reference.
// Included only by pool_avx512.cc (compiled with -mavx512f).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace odyssey::avx512::packed {
namespace {

constexpr std::size_t kLanes = 16;

// Packing pays when at least two rows share a vector.
inline bool applies(std::size_t in_w, std::size_t out_w, std::size_t rows) {
  return in_w == 2 * out_w && 2 * out_w <= kLanes && rows >= 2;
}

inline __mmask16 first_lanes(std::size_t n) {
  return n >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// The lanes of vector q of a run of `count` floats that lie inside it.
inline __mmask16 run_lanes(std::size_t q, std::size_t count) {
  return first_lanes(count > q * kLanes ? count - q * kLanes : 0);
}

inline __m512i iota() {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// n / d lane by lane, for 0 <= n < 64 and 1 <= d <= 16, without a division per lane (this runs
// once per plane, and LeNet's planes are 25 outputs): (n + 1/2) / d in float is at least 1 / 32
// away from an integer, far beyond the rounding error.
inline __m512i quotient(__m512i n, std::size_t d) {
  const __m512 half_up = _mm512_add_ps(_mm512_cvtepi32_ps(n), _mm512_set1_ps(0.5f));
  return _mm512_cvttps_epi32(_mm512_mul_ps(half_up, _mm512_set1_ps(1.0f / static_cast<float>(d))));
}

// Lane l of `position` picks element position[l] (< 64) of the 64 floats v[0..3]; `high` marks
// the lanes that pick from v[2..3].
inline __m512 pick(const __m512 (&v)[4], __m512i position, __mmask16 high) {
  const __m512 low_half = _mm512_permutex2var_ps(v[0], position, v[1]);
  const __m512 high_half = _mm512_permutex2var_ps(v[2], position, v[3]);
  return _mm512_mask_blend_ps(high, low_half, high_half);
}

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
inline void take_larger(__m512& best, __m512i& index, __m512 v, __m512i v_index) {
  const __mmask16 take =
      _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_blend_ps(take, best, v);
  index = _mm512_mask_blend_epi32(take, index, v_index);
}

// The forward pass over `rows` output rows (applies() holds): blocks of `group` rows, each one
// vector of group * out_w outputs from 4 group out_w contiguous inputs.
void max_2x2_rows(const float* top, std::size_t in_w, std::size_t out_w, std::size_t rows,
                  std::int32_t top_index, bool relu, float* y, std::int32_t* argmax) {
  const std::size_t group = kLanes / out_w < rows ? kLanes / out_w : rows;
  // Lane l = g out_w + j is output j of the block's row g; its top-left input is 2 g in_w + 2 j
  // into the block. Lanes past the block read input 0 and are never stored.
  const __m512i lane = iota();
  const __m512i g = quotient(lane, out_w);
  const __m512i j =
      _mm512_sub_epi32(lane, _mm512_mullo_epi32(g, _mm512_set1_epi32(static_cast<int>(out_w))));
  const __m512i top_left = _mm512_maskz_add_epi32(
      _mm512_cmplt_epi32_mask(g, _mm512_set1_epi32(static_cast<int>(group))),
      _mm512_mullo_epi32(g, _mm512_set1_epi32(static_cast<int>(2 * in_w))), _mm512_add_epi32(j, j));
  const __m512i one = _mm512_set1_epi32(1), row = _mm512_set1_epi32(static_cast<int>(in_w));
  const __m512i taps[4] = {top_left, _mm512_add_epi32(top_left, one),
                           _mm512_add_epi32(top_left, row),
                           _mm512_add_epi32(_mm512_add_epi32(top_left, row), one)};
  __mmask16 high[4];
  for (int t = 0; t < 4; ++t) high[t] = _mm512_cmpge_epi32_mask(taps[t], _mm512_set1_epi32(32));
  for (std::size_t r = 0; r < rows; r += group) {
    const std::size_t n = (rows - r < group ? rows - r : group) * out_w, skip = 2 * r * in_w;
    __m512 v[4];
    for (std::size_t q = 0; q < 4; ++q) {
      v[q] = _mm512_maskz_loadu_ps(run_lanes(q, 4 * n), top + skip + q * kLanes);
    }
    const __m512i base = _mm512_set1_epi32(top_index + static_cast<std::int32_t>(skip));
    const __m512 top_left_value = pick(v, taps[0], high[0]);
    __m512 best = top_left_value;
    __m512i index = _mm512_add_epi32(base, taps[0]);
    for (int t = 1; t < 4; ++t) {
      take_larger(best, index, pick(v, taps[t], high[t]), _mm512_add_epi32(base, taps[t]));
    }
    if (relu) {  // dead where best <= 0 (false for NaN)
      // As in pool_rows.h: a dead window gives relu of its first value (-0.0 stays -0.0), the
      // bits of a separate relu then max-pool.
      const __mmask16 dead = _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_LE_OQ);
      const __mmask16 keep_first =
          _mm512_cmp_ps_mask(_mm512_setzero_ps(), top_left_value, _CMP_LE_OQ);
      const __m512 first = _mm512_maskz_mov_ps(keep_first, top_left_value);
      best = _mm512_mask_blend_ps(dead, best, first);
      index = _mm512_mask_blend_epi32(dead, index, _mm512_set1_epi32(-1));
    }
    _mm512_mask_storeu_ps(y + r * out_w, first_lanes(n), best);
    _mm512_mask_storeu_epi32(argmax + r * out_w, first_lanes(n), index);
  }
}

// The backward pass over `rows` output rows (applies() holds): each block's 4 group out_w input
// elements, lane by lane, take 0 + dy of their window where its argmax names them, else 0.
void max_2x2_backward_rows(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                           std::size_t rows, std::int32_t top_index, std::size_t in_w, float* top) {
  const std::size_t group = kLanes / out_w < rows ? kLanes / out_w : rows;
  // Element p of a block lies in row p / in_w of it and column p % in_w: the window of output
  // (p / in_w / 2) out_w + p % in_w / 2 of the block. Elements past the block are never stored.
  const __m512i iota_lanes = iota(), width = _mm512_set1_epi32(static_cast<int>(out_w));
  __m512i windows[4];
  for (int q = 0; q < 4; ++q) {
    const __m512i p = _mm512_add_epi32(iota_lanes, _mm512_set1_epi32(q * static_cast<int>(kLanes)));
    const __m512i in_row = quotient(p, in_w);
    const __m512i column =
        _mm512_sub_epi32(p, _mm512_mullo_epi32(in_row, _mm512_set1_epi32(static_cast<int>(in_w))));
    const __m512i window_row = _mm512_mullo_epi32(_mm512_srli_epi32(in_row, 1), width);
    windows[q] = _mm512_add_epi32(window_row, _mm512_srli_epi32(column, 1));
  }
  for (std::size_t r = 0; r < rows; r += group) {
    const std::size_t n = (rows - r < group ? rows - r : group) * out_w, skip = 2 * r * in_w;
    // 0 + dy turns a -0 into +0, as adding into a cleared row does.
    const __m512 g =
        _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(first_lanes(n), dy + r * out_w));
    const __m512i at = _mm512_maskz_loadu_epi32(first_lanes(n), argmax + r * out_w);
    const __m512i base = _mm512_add_epi32(
        _mm512_set1_epi32(top_index + static_cast<std::int32_t>(skip)), iota_lanes);
    for (std::size_t q = 0; q < 4; ++q) {
      const __m512i here = _mm512_add_epi32(base, _mm512_set1_epi32(static_cast<int>(q * kLanes)));
      const __mmask16 named =
          _mm512_cmpeq_epi32_mask(_mm512_permutexvar_epi32(windows[q], at), here);
      _mm512_mask_storeu_ps(top + skip + q * kLanes, run_lanes(q, 4 * n),
                            _mm512_maskz_mov_ps(named, _mm512_permutexvar_ps(windows[q], g)));
    }
  }
}

}  // namespace
}  // namespace odyssey::avx512::packed
