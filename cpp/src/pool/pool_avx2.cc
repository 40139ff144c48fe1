// AVX2 variant, compiled with -mavx2 -mfma: 8 outputs per step, even and odd input columns
// separated by shuffles; the row end goes through the scalar form.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"

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
                 float* y, std::int32_t* argmax) {
  const __m256i even_columns = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), row = _mm256_set1_epi32(static_cast<int>(in_w));
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
    _mm256_storeu_ps(y + i, best);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax + i), index);
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_row(top + 2 * i, in_w, out_w - i,
                              top_index + 2 * static_cast<std::int32_t>(i), y + i, argmax + i);
  }
}

}  // namespace

const PoolKernels kPool{max_2x2_row};

}  // namespace odyssey::avx2
