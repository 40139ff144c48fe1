// Activation functions and their gradients, elementwise over contiguous float32 arrays.
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's implementation over a contiguous range. Pointers need only float alignment; an output
// may be the same array as an input, but must not partially overlap one. Backward functions take
// the forward input x (relu, leaky relu) or the forward output y (sigmoid, tanh, lecun tanh), with
// PyTorch's conventions: relu's gradient is 0 at x == 0 and passes for NaN, leaky relu's is
// x > 0 ? g : g * slope, hardtanh's passes strictly inside (lo, hi) only (not for NaN).
struct ActivationKernels {
  void (*relu_backward)(const float* grad_out, const float* x, float* grad_x, std::size_t n);
  void (*leaky_relu)(const float* x, float slope, float* out, std::size_t n);
  void (*leaky_relu_backward)(const float* grad_out, const float* x, float slope, float* grad_x,
                              std::size_t n);
  void (*sigmoid)(const float* x, float* out, std::size_t n);
  // g * (1 - y) * y
  void (*sigmoid_backward)(const float* grad_out, const float* y, float* grad_x, std::size_t n);
  void (*tanh)(const float* x, float* out, std::size_t n);
  // g * (1 - y * y)
  void (*tanh_backward)(const float* grad_out, const float* y, float* grad_x, std::size_t n);
  // 1.7159 tanh(2x / 3), LeCun's scaled tanh (Efficient BackProp, 1998).
  void (*lecun_tanh)(const float* x, float* out, std::size_t n);
  // g * (2/3) * (1.7159 - y * y / 1.7159)
  void (*lecun_tanh_backward)(const float* grad_out, const float* y, float* grad_x, std::size_t n);
  // x clamped to [lo, hi] (lo <= hi), NaN propagating: relu6 is hardtanh(x, 0, 6).
  void (*hardtanh)(const float* x, float lo, float hi, float* out, std::size_t n);
  // lo < x < hi ? g : 0, from the forward input x.
  void (*hardtanh_backward)(const float* grad_out, const float* x, float lo, float hi,
                            float* grad_x, std::size_t n);
  // x * sigmoid(x), the SiLU (swish).
  void (*silu)(const float* x, float* out, std::size_t n);
  // g * s * (1 + x * (1 - s)), s = sigmoid(x), from the forward input x.
  void (*silu_backward)(const float* grad_out, const float* x, float* grad_x, std::size_t n);
};

inline constexpr float kLecunScale = 1.7159f;
inline constexpr float kLecunSlope = 2.0f / 3.0f;

namespace scalar {
extern const ActivationKernels kActivation;
}
namespace avx2 {
extern const ActivationKernels kActivation;
}
namespace avx512 {
extern const ActivationKernels kActivation;
}
namespace neon {
extern const ActivationKernels kActivation;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const ActivationKernels* activation_kernels(Isa isa);
inline const ActivationKernels& activation_kernels() { return *activation_kernels(selected_isa()); }

// Whole-array operations: the selected ISA over fixed-size parallel chunks (kEltwiseGrain).
void relu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n);
void leaky_relu(const float* x, float slope, float* out, std::size_t n);
void leaky_relu_backward(const float* grad_out, const float* x, float slope, float* grad_x,
                         std::size_t n);
void sigmoid(const float* x, float* out, std::size_t n);
void sigmoid_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n);
void tanh(const float* x, float* out, std::size_t n);
void tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n);
void lecun_tanh(const float* x, float* out, std::size_t n);
void lecun_tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n);
void hardtanh(const float* x, float lo, float hi, float* out, std::size_t n);
void hardtanh_backward(const float* grad_out, const float* x, float lo, float hi, float* grad_x,
                       std::size_t n);
void silu(const float* x, float* out, std::size_t n);
void silu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n);

}  // namespace odyssey
