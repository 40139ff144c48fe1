// AVX2 variant, compiled with -mavx2 -mfma. Includes no standard-library header that could emit
// inline functions compiled for AVX2 and shared with baseline code through the linker.
#include <immintrin.h>

#include <cstdint>

#include "odyssey/eltwise.h"

namespace odyssey::avx2 {
namespace {

constexpr std::size_t kLanes = 8;

// Elements before `p` reaches a 32-byte boundary, at most n. From a 16-byte aligned address (what
// NumPy gives) every other 32-byte access would split a cache line; a scalar head avoids that.
std::size_t head_length(const float* p, std::size_t n) {
  const std::size_t head = (32 - reinterpret_cast<std::uintptr_t>(p) % 32) % 32 / sizeof(float);
  return head < n ? head : n;
}

// out[i] = op(a[i], b[i]), with the scalar form of op for the head and the tail.
template <typename VectorOp, typename ScalarOp>
void binary(const float* a, const float* b, float* out, std::size_t n, VectorOp vector_op,
            ScalarOp scalar_op) {
  const std::size_t head = head_length(out, n);
  std::size_t i = 0;
  for (; i < head; ++i) out[i] = scalar_op(a[i], b[i]);
  for (; i + kLanes <= n; i += kLanes) {
    _mm256_storeu_ps(out + i, vector_op(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  }
  for (; i < n; ++i) out[i] = scalar_op(a[i], b[i]);
}

void add(const float* a, const float* b, float* out, std::size_t n) {
  binary(
      a, b, out, n, [](__m256 x, __m256 y) { return _mm256_add_ps(x, y); },
      [](float x, float y) { return x + y; });
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  binary(
      a, b, out, n, [](__m256 x, __m256 y) { return _mm256_mul_ps(x, y); },
      [](float x, float y) { return x * y; });
}

void relu(const float* x, float* out, std::size_t n) {
  // max(0, x) returns its second operand for NaN and for +-0, matching the reference 0 > x ? 0 : x;
  // the same x serves as both inputs of binary().
  binary(
      x, x, out, n, [](__m256 v, __m256) { return _mm256_max_ps(_mm256_setzero_ps(), v); },
      [](float v, float) { return 0.0f > v ? 0.0f : v; });
}

double sum(const float* x, std::size_t n) {
  const std::size_t head = head_length(x, n);
  double total = 0.0;
  std::size_t i = 0;
  for (; i < head; ++i) total += x[i];
  // Four independent accumulators hide the add latency.
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(x + i));
    acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(x + i + kLanes));
    acc2 = _mm256_add_ps(acc2, _mm256_loadu_ps(x + i + 2 * kLanes));
    acc3 = _mm256_add_ps(acc3, _mm256_loadu_ps(x + i + 3 * kLanes));
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(x + i));
  const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  const __m256d wide = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(acc)),
                                     _mm256_cvtps_pd(_mm256_extractf128_ps(acc, 1)));
  const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(wide), _mm256_extractf128_pd(wide, 1));
  total += _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
  for (; i < n; ++i) total += x[i];
  return total;
}

}  // namespace

const EltwiseKernels kEltwise{add, mul, relu, sum};

}  // namespace odyssey::avx2
