// AVX-512F variant, compiled with -mavx512f. Includes no standard-library header that could emit
// inline functions compiled for AVX-512 and shared with baseline code through the linker.
#include <immintrin.h>

#include <cstdint>

#include "odyssey/eltwise.h"

namespace odyssey::avx512 {
namespace {

constexpr std::size_t kLanes = 16;

__mmask16 first_lanes(std::size_t count) {  // count < 16
  return static_cast<__mmask16>((1u << count) - 1u);
}

// Elements before `p` reaches a 64-byte boundary, at most n. From a 16-byte aligned address (what
// NumPy gives) every 64-byte access would split a cache line, which costs about a fifth of the
// throughput, so each kernel handles this head with one masked vector and then runs aligned.
std::size_t head_length(const float* p, std::size_t n) {
  const std::size_t head = (64 - reinterpret_cast<std::uintptr_t>(p) % 64) % 64 / sizeof(float);
  return head < n ? head : n;
}

// out[i] = op(a[i], b[i]): a masked head up to out's alignment, full vectors, a masked tail.
template <typename Op>
void binary(const float* a, const float* b, float* out, std::size_t n, Op op) {
  std::size_t i = head_length(out, n);
  if (i > 0) {
    const __mmask16 m = first_lanes(i);
    _mm512_mask_storeu_ps(out, m, op(_mm512_maskz_loadu_ps(m, a), _mm512_maskz_loadu_ps(m, b)));
  }
  for (; i + kLanes <= n; i += kLanes) {
    _mm512_storeu_ps(out + i, op(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(out + i, m,
                          op(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void add(const float* a, const float* b, float* out, std::size_t n) {
  binary(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_add_ps(x, y); });
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  binary(a, b, out, n, [](__m512 x, __m512 y) { return _mm512_mul_ps(x, y); });
}

void relu(const float* x, float* out, std::size_t n) {
  // max(0, x) returns its second operand for NaN and for +-0, matching the reference 0 > x ? 0 : x;
  // the same x serves as both inputs of binary().
  binary(x, x, out, n, [](__m512 v, __m512) { return _mm512_max_ps(_mm512_setzero_ps(), v); });
}

double sum(const float* x, std::size_t n) {
  // Four independent accumulators hide the add latency.
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = head_length(x, n);
  if (i > 0) acc0 = _mm512_maskz_loadu_ps(first_lanes(i), x);
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(x + i));
    acc1 = _mm512_add_ps(acc1, _mm512_loadu_ps(x + i + kLanes));
    acc2 = _mm512_add_ps(acc2, _mm512_loadu_ps(x + i + 2 * kLanes));
    acc3 = _mm512_add_ps(acc3, _mm512_loadu_ps(x + i + 3 * kLanes));
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = _mm512_add_ps(acc0, _mm512_loadu_ps(x + i));
  if (i < n) acc1 = _mm512_add_ps(acc1, _mm512_maskz_loadu_ps(first_lanes(n - i), x + i));
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
  const __m512d wide =
      _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(acc)), _mm512_cvtps_pd(high));
  return _mm512_reduce_add_pd(wide);
}

}  // namespace

const EltwiseKernels kEltwise{add, mul, relu, sum};

}  // namespace odyssey::avx512
