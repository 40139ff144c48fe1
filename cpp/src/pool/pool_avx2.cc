// AVX2 variant, compiled with -mavx2 -mfma: 8 outputs per step, even and odd input columns
// separated by shuffles; the row end goes through the scalar form.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"
#include "pool_rows.h"

namespace odyssey::avx2 {
namespace {

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
void take_larger(__m256& best, __m256i& index, __m256 v, __m256i v_index) {
  const __m256 take =
      _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  best = _mm256_blendv_ps(best, v, take);
  index = _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(index), _mm256_castsi256_ps(v_index), take));
}

// Columns 0, 2, ..., 14 and 1, 3, ..., 15 of p[0 .. 16).
void split(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  // Within each 128-bit half: a's then b's even (odd) columns; the 64-bit permute restores order.
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
}

void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 bool relu, float* y, std::int32_t* argmax) {
  const __m256i even_columns = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), row = _mm256_set1_epi32(static_cast<int>(in_w));
  const __m256i minus_one = _mm256_set1_epi32(-1);
  const float* bottom = top + in_w;
  std::size_t i = 0;
  for (; i + 8 <= out_w; i += 8) {
    __m256 t_even, t_odd, b_even, b_odd;
    split(top + 2 * i, t_even, t_odd);
    split(bottom + 2 * i, b_even, b_odd);
    const __m256i at = _mm256_add_epi32(
        _mm256_set1_epi32(top_index + 2 * static_cast<std::int32_t>(i)), even_columns);
    __m256 best = t_even;
    __m256i index = at;
    take_larger(best, index, t_odd, _mm256_add_epi32(at, one));
    take_larger(best, index, b_even, _mm256_add_epi32(at, row));
    take_larger(best, index, b_odd, _mm256_add_epi32(_mm256_add_epi32(at, row), one));
    if (relu) {  // alive where best > 0 or NaN
      const __m256 alive = _mm256_cmp_ps(best, _mm256_setzero_ps(), _CMP_NLE_UQ);
      best = _mm256_and_ps(alive, best);
      index = _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(alive), index),
                              _mm256_andnot_si256(_mm256_castps_si256(alive), minus_one));
    }
    _mm256_storeu_ps(y + i, best);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + i), index);
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_rows(top + 2 * i, in_w, out_w - i, 1,
                               top_index + 2 * static_cast<std::int32_t>(i), relu, y + i,
                               argmax + i);
  }
}

// Where the int32 lanes of `at` equal those of `here`, g; elsewhere 0.
__m256 where_equal(__m256i at, __m256i here, __m256 g) {
  return _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(at, here)), g);
}

// 8 outputs per step: their gradients and argmaxes, each duplicated into the two lanes of its
// window's columns, are compared with the 16 columns' plane indices of each row.
void max_2x2_backward_row(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                          std::int32_t top_index, std::size_t in_w, float* top) {
  const __m256i low = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256i high = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i columns = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i eight = _mm256_set1_epi32(8), row = _mm256_set1_epi32(static_cast<int>(in_w));
  float* bottom = top + in_w;
  std::size_t i = 0;
  for (; i + 8 <= out_w; i += 8) {
    const __m256 g = _mm256_add_ps(_mm256_setzero_ps(), _mm256_loadu_ps(dy + i));
    const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(argmax + i));
    const __m256i here =
        _mm256_add_epi32(_mm256_set1_epi32(top_index + 2 * static_cast<std::int32_t>(i)), columns);
    const __m256i here_high = _mm256_add_epi32(here, eight);
    const __m256 g_low = _mm256_permutevar8x32_ps(g, low);
    const __m256 g_high = _mm256_permutevar8x32_ps(g, high);
    const __m256i at_low = _mm256_permutevar8x32_epi32(at, low);
    const __m256i at_high = _mm256_permutevar8x32_epi32(at, high);
    _mm256_storeu_ps(top + 2 * i, where_equal(at_low, here, g_low));
    _mm256_storeu_ps(top + 2 * i + 8, where_equal(at_high, here_high, g_high));
    _mm256_storeu_ps(bottom + 2 * i, where_equal(at_low, _mm256_add_epi32(here, row), g_low));
    _mm256_storeu_ps(bottom + 2 * i + 8,
                     where_equal(at_high, _mm256_add_epi32(here_high, row), g_high));
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_backward_rows(dy + i, argmax + i, out_w - i, 1,
                                        top_index + 2 * static_cast<std::int32_t>(i), in_w,
                                        top + 2 * i);
  }
}

}  // namespace

const PoolKernels kPool{
    .max_2x2_rows = pool_rows::max_2x2_rows<max_2x2_row>,
    .max_2x2_backward_rows = pool_rows::max_2x2_backward_rows<max_2x2_backward_row>,
};

}  // namespace odyssey::avx2
