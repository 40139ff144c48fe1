// The reference implementation every SIMD variant is tested against.
#include "odyssey/eltwise.h"

namespace odyssey::scalar {
namespace {

void add(const float* a, const float* b, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}

void relu(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = 0.0f > x[i] ? 0.0f : x[i];
}

// Accumulates in double: the most accurate of the variants, as a reference should be.
double sum(const float* x, std::size_t n) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += x[i];
  return total;
}

}  // namespace

const EltwiseKernels kEltwise{.add = add, .mul = mul, .relu = relu, .sum = sum};

}  // namespace odyssey::scalar
