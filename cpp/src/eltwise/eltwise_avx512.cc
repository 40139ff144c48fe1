// AVX-512F variant, compiled with -mavx512f. Edges use masked loads and stores, which do not touch
// the masked-off lanes. Includes no standard-library header (see eltwise_avx2.cc).
#include <immintrin.h>

#include "odyssey/eltwise.h"

namespace odyssey::avx512 {
namespace {

constexpr std::size_t kLanes = 16;

__mmask16 tail_mask(std::size_t remaining) {
  return static_cast<__mmask16>((1u << remaining) - 1u);  // remaining < 16
}

void add(const float* a, const float* b, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(
        out + i, m,
        _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(
        out + i, m,
        _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void relu(const float* x, float* out, std::size_t n) {
  const __m512 zero = _mm512_setzero_ps();
  std::size_t i = 0;
  // max(0, x) returns its second operand for NaN and for +-0, matching the reference 0 > x ? 0 : x.
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, _mm512_max_ps(zero, _mm512_loadu_ps(x + i)));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_max_ps(zero, _mm512_maskz_loadu_ps(m, x + i)));
  }
}

double sum(const float* x, std::size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(x + i));
    acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(x + i + kLanes));
    acc2 = _mm512_add_ps(acc2, _mm512_loadu_ps(x + i + 2 * kLanes));
    acc3 = _mm512_add_ps(acc3, _mm512_loadu_ps(x + i + 3 * kLanes));
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(x + i));
  if (i < n) acc1 = _mm512_add_ps(acc1, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  const __m512d wide = _mm512_add_pd(
      _mm512_cvtps_pd(_mm512_castps512_ps256(acc)),
      _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1))));
  return _mm512_reduce_add_pd(wide);
}

}  // namespace

const EltwiseKernels kEltwise{add, mul, relu, sum};

}  // namespace odyssey::avx512
