// AVX-512F variant, compiled with -mavx512f -mavx2 -mfma: 16 outputs per step, the even and odd
// input columns separated by two-source permutes, masked loads and stores at the row end.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"
#include "pool_rows.h"

namespace odyssey::avx512 {
namespace {

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
void take_larger(__m512& best, __m512i& index, __m512 v, __m512i v_index) {
  const __mmask16 take =
      _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v);
  index = _mm512_mask_mov_epi32(index, take, v_index);
}

void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 bool relu, float* y, std::int32_t* argmax) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), row = _mm512_set1_epi32(static_cast<int>(in_w));
  const float* bottom = top + in_w;
  for (std::size_t i = 0; i < out_w; i += 16) {
    const std::size_t n = out_w - i < 16 ? out_w - i : 16;
    // The 2n input columns of this step in two vectors; lanes past them are zero and unused.
    const __mmask16 low = static_cast<__mmask16>(n >= 8 ? 0xFFFFu : (1u << (2 * n)) - 1u);
    const __mmask16 high = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1u : 0u);
    const __m512 t0 = _mm512_maskz_loadu_ps(low, top + 2 * i);
    const __m512 t1 = _mm512_maskz_loadu_ps(high, top + 2 * i + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(low, bottom + 2 * i);
    const __m512 b1 = _mm512_maskz_loadu_ps(high, bottom + 2 * i + 16);
    const __m512i at =
        _mm512_add_epi32(_mm512_set1_epi32(top_index + 2 * static_cast<std::int32_t>(i)), even);
    __m512 best = _mm512_permutex2var_ps(t0, even, t1);
    __m512i index = at;
    take_larger(best, index, _mm512_permutex2var_ps(t0, odd, t1), _mm512_add_epi32(at, one));
    take_larger(best, index, _mm512_permutex2var_ps(b0, even, b1), _mm512_add_epi32(at, row));
    take_larger(best, index, _mm512_permutex2var_ps(b0, odd, b1),
                _mm512_add_epi32(_mm512_add_epi32(at, row), one));
    if (relu) {  // alive where best > 0 or NaN
      const __mmask16 alive = _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_NLE_UQ);
      best = _mm512_maskz_mov_ps(alive, best);
      index = _mm512_mask_mov_epi32(_mm512_set1_epi32(-1), alive, index);
    }
    const __mmask16 out = static_cast<__mmask16>((1u << n) - 1u);
    _mm512_mask_storeu_ps(y + i, out, best);
    _mm512_mask_storeu_epi32(argmax + i, out, index);
  }
}

// 16 outputs per step: their gradients and argmaxes, each duplicated into the two lanes of its
// window's columns, are compared with the 32 columns' plane indices of each row.
void max_2x2_backward_row(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                          std::int32_t top_index, std::size_t in_w, float* top) {
  const __m512i low = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
  const __m512i columns = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sixteen = _mm512_set1_epi32(16), row = _mm512_set1_epi32(static_cast<int>(in_w));
  float* bottom = top + in_w;
  for (std::size_t i = 0; i < out_w; i += 16) {
    const std::size_t n = out_w - i < 16 ? out_w - i : 16;
    const __mmask16 outputs = static_cast<__mmask16>((1u << n) - 1u);
    // 2n columns: the first min(2n, 16) in the low half, the rest in the high half.
    const __mmask16 low_columns = static_cast<__mmask16>(n >= 8 ? 0xFFFFu : (1u << (2 * n)) - 1u);
    const __mmask16 high_columns = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1u : 0u);
    const __m512 g = _mm512_add_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(outputs, dy + i));
    const __m512i at = _mm512_maskz_loadu_epi32(outputs, argmax + i);
    const __m512i here =
        _mm512_add_epi32(_mm512_set1_epi32(top_index + 2 * static_cast<std::int32_t>(i)), columns);
    const __m512 g_low = _mm512_permutexvar_ps(low, g), g_high = _mm512_permutexvar_ps(high, g);
    const __m512i at_low = _mm512_permutexvar_epi32(low, at);
    const __m512i at_high = _mm512_permutexvar_epi32(high, at);
    const __m512i here_high = _mm512_add_epi32(here, sixteen);
    _mm512_mask_storeu_ps(top + 2 * i, low_columns,
                          _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at_low, here), g_low));
    _mm512_mask_storeu_ps(top + 2 * i + 16, high_columns,
                          _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at_high, here_high), g_high));
    _mm512_mask_storeu_ps(
        bottom + 2 * i, low_columns,
        _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at_low, _mm512_add_epi32(here, row)), g_low));
    _mm512_mask_storeu_ps(
        bottom + 2 * i + 16, high_columns,
        _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at_high, _mm512_add_epi32(here_high, row)),
                            g_high));
  }
}

}  // namespace

const PoolKernels kPool{
    .max_2x2_rows = pool_rows::max_2x2_rows<max_2x2_row>,
    .max_2x2_backward_rows = pool_rows::max_2x2_backward_rows<max_2x2_backward_row>,
};

}  // namespace odyssey::avx512
