// The reference implementation every SIMD variant is tested against, on the C library's math.
#include <cmath>

#include "odyssey/activation.h"

namespace odyssey::scalar {
namespace {

void relu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = x[i] <= 0.0f ? 0.0f : grad_out[i];
}

void leaky_relu(const float* x, float slope, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void leaky_relu_backward(const float* grad_out, const float* x, float slope, float* grad_x,
                         std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = x[i] > 0.0f ? grad_out[i] : grad_out[i] * slope;
}

float sigmoid_of(float x) {
  const float e = std::exp(-std::fabs(x));
  return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

void sigmoid(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = sigmoid_of(x[i]);
}

void sigmoid_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = grad_out[i] * (1.0f - y[i]) * y[i];
}

void tanh(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}

void tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = grad_out[i] * (1.0f - y[i] * y[i]);
}

void lecun_tanh(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = kLecunScale * std::tanh(x[i] * kLecunSlope);
}

void lecun_tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    grad_x[i] = grad_out[i] * kLecunSlope * (kLecunScale - y[i] * y[i] / kLecunScale);
  }
}

void hardtanh(const float* x, float lo, float hi, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float raised = lo > x[i] ? lo : x[i];  // NaN fails both compares and stays NaN
    out[i] = raised > hi ? hi : raised;
  }
}

void hardtanh_backward(const float* grad_out, const float* x, float lo, float hi, float* grad_x,
                       std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) grad_x[i] = x[i] > lo && x[i] < hi ? grad_out[i] : 0.0f;
}

void silu(const float* x, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * sigmoid_of(x[i]);
}

void silu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float s = sigmoid_of(x[i]);
    grad_x[i] = grad_out[i] * s * (1.0f + x[i] * (1.0f - s));
  }
}

}  // namespace

const ActivationKernels kActivation{
    .relu_backward = relu_backward,
    .leaky_relu = leaky_relu,
    .leaky_relu_backward = leaky_relu_backward,
    .sigmoid = sigmoid,
    .sigmoid_backward = sigmoid_backward,
    .tanh = tanh,
    .tanh_backward = tanh_backward,
    .lecun_tanh = lecun_tanh,
    .lecun_tanh_backward = lecun_tanh_backward,
    .hardtanh = hardtanh,
    .hardtanh_backward = hardtanh_backward,
    .silu = silu,
    .silu_backward = silu_backward,
};

}  // namespace odyssey::scalar
