// The reference implementation every SIMD variant is tested against. PyTorch's vector kernels
// compute add(a, b, alpha) and lerp with a fused multiply-add; std::fma does the same here, so
// every variant gives the same bits.
#include <cmath>

#include "odyssey/optimizer.h"

namespace odyssey::scalar {
namespace {

void sgd(float* param, const float* grad, float* momentum_buffer, const SgdScalars& s,
         std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (s.weight_decay != 0.0f) g = std::fma(param[i], s.weight_decay, g);
    if (s.momentum != 0.0f) {
      float buf = g;
      if (!s.first_step) {
        buf = std::fma(g, s.one_minus_dampening, momentum_buffer[i] * s.momentum);
      }
      momentum_buffer[i] = buf;
      g = s.nesterov ? std::fma(buf, s.momentum, g) : buf;
    }
    param[i] = std::fma(g, s.neg_lr, param[i]);
  }
}

// lerp(start, end, w) as PyTorch computes it: from the nearer end, so that w = 0 and w = 1 are
// exact.
float lerp(float start, float end, float weight) {
  return weight < 0.5f ? std::fma(weight, end - start, start)
                       : std::fma(weight - 1.0f, end - start, end);
}

void adam(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
          const AdamScalars& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    float p = param[i] * s.decay_factor;
    float g = grad[i];
    if (s.weight_decay != 0.0f) g = std::fma(p, s.weight_decay, g);
    const float m = lerp(exp_avg[i], g, s.lerp_weight);
    float v = exp_avg_sq[i] * s.beta2 + s.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if (max_exp_avg_sq != nullptr) {
      v = max_exp_avg_sq[i] > v ? max_exp_avg_sq[i] : v;
      max_exp_avg_sq[i] = v;
    }
    const float denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
    param[i] = p + s.neg_step_size * m / denom;
  }
}

}  // namespace

const OptimizerKernels kOptimizer{sgd, adam};

}  // namespace odyssey::scalar
