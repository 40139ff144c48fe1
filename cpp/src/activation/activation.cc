// Whole-array activations: the selected ISA's kernels over fixed-size parallel chunks.
#include "odyssey/activation.h"

#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace odyssey {
namespace {

template <class Body>
void chunks(std::size_t n, const Body& body) {
  parallel_for(n, kEltwiseGrain, [&](std::size_t begin, std::size_t end) { body(begin, end); });
}

}  // namespace

const ActivationKernels* activation_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(ActivationKernels, kActivation);
  return kTables.get(isa);
}

void relu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  const auto kernel = activation_kernels().relu_backward;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(grad_out + b, x + b, grad_x + b, e - b); });
}

void leaky_relu(const float* x, float slope, float* out, std::size_t n) {
  const auto kernel = activation_kernels().leaky_relu;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, slope, out + b, e - b); });
}

void leaky_relu_backward(const float* grad_out, const float* x, float slope, float* grad_x,
                         std::size_t n) {
  const auto kernel = activation_kernels().leaky_relu_backward;
  chunks(n, [&](std::size_t b, std::size_t e) {
    kernel(grad_out + b, x + b, slope, grad_x + b, e - b);
  });
}

void sigmoid(const float* x, float* out, std::size_t n) {
  const auto kernel = activation_kernels().sigmoid;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, out + b, e - b); });
}

void sigmoid_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  const auto kernel = activation_kernels().sigmoid_backward;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(grad_out + b, y + b, grad_x + b, e - b); });
}

void tanh(const float* x, float* out, std::size_t n) {
  const auto kernel = activation_kernels().tanh;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, out + b, e - b); });
}

void tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  const auto kernel = activation_kernels().tanh_backward;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(grad_out + b, y + b, grad_x + b, e - b); });
}

void lecun_tanh(const float* x, float* out, std::size_t n) {
  const auto kernel = activation_kernels().lecun_tanh;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, out + b, e - b); });
}

void lecun_tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  const auto kernel = activation_kernels().lecun_tanh_backward;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(grad_out + b, y + b, grad_x + b, e - b); });
}

void hardtanh(const float* x, float lo, float hi, float* out, std::size_t n) {
  const auto kernel = activation_kernels().hardtanh;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, lo, hi, out + b, e - b); });
}

void hardtanh_backward(const float* grad_out, const float* x, float lo, float hi, float* grad_x,
                       std::size_t n) {
  const auto kernel = activation_kernels().hardtanh_backward;
  chunks(n, [&](std::size_t b, std::size_t e) {
    kernel(grad_out + b, x + b, lo, hi, grad_x + b, e - b);
  });
}

void silu(const float* x, float* out, std::size_t n) {
  const auto kernel = activation_kernels().silu;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(x + b, out + b, e - b); });
}

void silu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  const auto kernel = activation_kernels().silu_backward;
  chunks(n, [&](std::size_t b, std::size_t e) { kernel(grad_out + b, x + b, grad_x + b, e - b); });
}

}  // namespace odyssey
