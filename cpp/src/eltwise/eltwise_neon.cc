// NEON (Advanced SIMD) variant for AArch64, where NEON is part of the baseline.
#include <arm_neon.h>

#include "odyssey/eltwise.h"

namespace odyssey::neon {
namespace {

constexpr std::size_t kLanes = 4;

// out[i] = op(a[i], b[i]), with the scalar form of op for the tail.
template <typename VectorOp, typename ScalarOp>
void binary(const float* a, const float* b, float* out, std::size_t n, VectorOp vector_op,
            ScalarOp scalar_op) {
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    vst1q_f32(out + i, vector_op(vld1q_f32(a + i), vld1q_f32(b + i)));
  }
  for (; i < n; ++i) out[i] = scalar_op(a[i], b[i]);
}

void add(const float* a, const float* b, float* out, std::size_t n) {
  binary(
      a, b, out, n, [](float32x4_t x, float32x4_t y) { return vaddq_f32(x, y); },
      [](float x, float y) { return x + y; });
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  binary(
      a, b, out, n, [](float32x4_t x, float32x4_t y) { return vmulq_f32(x, y); },
      [](float x, float y) { return x * y; });
}

void relu(const float* x, float* out, std::size_t n) {
  // A compare and select rather than vmaxq_f32, which turns -0.0 into +0.0: the reference keeps it.
  // The same x serves as both inputs of binary().
  binary(
      x, x, out, n,
      [](float32x4_t v, float32x4_t) {
        return vbslq_f32(vcltq_f32(v, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), v);
      },
      [](float v, float) { return 0.0f > v ? 0.0f : v; });
}

double sum(const float* x, std::size_t n) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = vaddq_f32(acc0, vld1q_f32(x + i));
    acc1 = vaddq_f32(acc1, vld1q_f32(x + i + kLanes));
    acc2 = vaddq_f32(acc2, vld1q_f32(x + i + 2 * kLanes));
    acc3 = vaddq_f32(acc3, vld1q_f32(x + i + 3 * kLanes));
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = vaddq_f32(acc0, vld1q_f32(x + i));
  const float32x4_t acc = vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3));
  const float64x2_t wide = vaddq_f64(vcvt_f64_f32(vget_low_f32(acc)), vcvt_high_f64_f32(acc));
  double total = vaddvq_f64(wide);
  for (; i < n; ++i) total += x[i];
  return total;
}

}  // namespace

const EltwiseKernels kEltwise{add, mul, relu, sum};

}  // namespace odyssey::neon
