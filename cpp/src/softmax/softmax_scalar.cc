// The reference implementation every SIMD variant is tested against: sums in double, std::exp.
#include <cmath>

#include "odyssey/softmax.h"

namespace odyssey::scalar {
namespace {

float max(const float* x, std::size_t n) {
  float m = x[0];
  for (std::size_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

double exp_sum(const float* x, float shift, float* out, std::size_t n) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float e = std::exp(x[i] - shift);
    if (out != nullptr) out[i] = e;
    total += e;
  }
  return total;
}

void scale(const float* x, float s, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}

void subtract2(const float* x, float a, float b, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = (x[i] - a) - b;
}

double dot(const float* a, const float* b, std::size_t n) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += static_cast<double>(a[i]) * b[i];
  return total;
}

double sum(const float* x, std::size_t n) {
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += x[i];
  return total;
}

void softmax_backward(const float* grad_y, const float* y, float dot_value, float* grad_x,
                      std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = y[i] * (grad_y[i] - dot_value);
}

void log_softmax_backward(const float* grad_y, const float* y, float sum_value, float* grad_x,
                          std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = grad_y[i] - std::exp(y[i]) * sum_value;
}

}  // namespace

const SoftmaxKernels kSoftmax{.max = max,
                              .exp_sum = exp_sum,
                              .scale = scale,
                              .subtract2 = subtract2,
                              .dot = dot,
                              .sum = sum,
                              .softmax_backward = softmax_backward,
                              .log_softmax_backward = log_softmax_backward};

}  // namespace odyssey::scalar
