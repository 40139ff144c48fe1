// The reference implementation every SIMD variant is tested against: PyTorch 2.13's CPU tensor
// operations, one element at a time, with each fused multiply-add where PyTorch's vector kernels
// have one (measured bit for bit against torch on 10^5 values, vector bodies and scalar tails):
// add(a, b, alpha) is fma(b, alpha, a), lerp fma(w, end - start, start) or, for w >= 0.5,
// fma(w - 1, end - start, end), addcmul(self, a, b, value) fma(value * a, b, self); mul, div,
// sqrt and addcdiv (self + value * a / b) round every operation. std::fma does the same here and
// the kernels are built with -ffp-contract=off, so every variant gives the same bits. Every NaN
// stored is the canonical one (canonical_nan), as in the SIMD variants.
#include <cmath>
#include <limits>

#include "odyssey/optimizer.h"

namespace odyssey::scalar {
namespace {

// Any NaN as the one canonical quiet NaN (+, payload 0). Which of two NaN operands an operation
// passes on follows the operand order the compiler picks, which in the SIMD variants differs
// between the aligned body and the masked head and tail (optimizer_simd.h, store_n); storing one
// NaN keeps every stored bit a function of the values alone, and the variants equal to this one.
float canonical_nan(float x) { return std::isnan(x) ? std::numeric_limits<float>::quiet_NaN() : x; }

// torch.optim.sgd._single_tensor_sgd: grad.add(param, alpha=wd); buf = grad.clone() on the first
// step, else buf.mul_(momentum).add_(grad, alpha=1 - dampening); grad.add(buf, alpha=momentum)
// (Nesterov) or buf; param.add_(grad, alpha=-lr).
void sgd(float* param, const float* grad, float* momentum_buffer, const SgdScalars& s,
         std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (s.use_weight_decay) g = std::fma(param[i], s.weight_decay, g);
    if (s.use_momentum) {
      float buf = g;
      if (!s.first_step) {
        buf = std::fma(g, s.one_minus_dampening, momentum_buffer[i] * s.momentum);
      }
      momentum_buffer[i] = canonical_nan(buf);
      g = s.nesterov ? std::fma(buf, s.momentum, g) : buf;
    }
    param[i] = canonical_nan(std::fma(g, s.neg_lr, param[i]));
  }
}

// lerp(start, end, w) as PyTorch computes it: from the nearer end, so that w = 0 and w = 1 are
// exact.
float lerp(float start, float end, float weight) {
  return weight < 0.5f ? std::fma(weight, end - start, start)
                       : std::fma(weight - 1.0f, end - start, end);
}

// torch.maximum: NaN when either operand is NaN, else the larger (the second of two equal).
float maximum(float a, float b) {
  if (std::isnan(a)) return a;
  return a > b ? a : b;
}

// torch.optim.adam._single_tensor_adam (capturable=False): param.mul_(1 - lr * wd) (AdamW) or
// grad.add(param, alpha=wd) (Adam); exp_avg.lerp_(grad, 1 - beta1);
// exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2); torch.maximum into
// max_exp_avg_sq (AMSGrad); denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);
// param.addcdiv_(exp_avg, denom, value=-step_size).
void adam(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
          const AdamScalars& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float p = param[i] * s.decay_factor;
    float g = grad[i];
    if (s.coupled_weight_decay) g = std::fma(p, s.weight_decay, g);
    const float m = lerp(exp_avg[i], g, s.lerp_weight);
    float v = std::fma(s.one_minus_beta2 * g, g, exp_avg_sq[i] * s.beta2);
    exp_avg[i] = canonical_nan(m);
    exp_avg_sq[i] = canonical_nan(v);
    if (max_exp_avg_sq != nullptr) {
      v = maximum(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = canonical_nan(v);
    }
    const float denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
    param[i] = canonical_nan(p + s.neg_step_size * m / denom);
  }
}

// torch.optim.rmsprop._single_tensor_rmsprop's tensor operations, one element at a time:
// grad.add(param, alpha=wd), square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha),
// grad_avg.lerp_(g, 1 - alpha), square_avg.addcmul(ga, ga, value=-1).sqrt_(), avg.add_(eps), then
// buf.mul_(momentum).addcdiv_(g, avg) and param.add_(buf, alpha=-lr), or
// param.addcdiv_(g, avg, value=-lr). PyTorch's addcmul is fma(value * a, b, self) (measured on
// torch 2.13: bit for bit on 10^5 values), its addcdiv self + value * a / b without one.
void rmsprop(float* param, const float* grad, float* square_avg, float* grad_avg,
             float* momentum_buffer, const RmspropScalars& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (s.use_weight_decay) g = std::fma(param[i], s.weight_decay, g);
    const float sq = std::fma(s.one_minus_alpha * g, g, square_avg[i] * s.alpha);
    square_avg[i] = canonical_nan(sq);
    float avg;
    if (s.centered) {
      const float ga = lerp(grad_avg[i], g, s.one_minus_alpha);
      grad_avg[i] = canonical_nan(ga);
      avg = std::sqrt(std::fma(-ga, ga, sq));
    } else {
      avg = std::sqrt(sq);
    }
    avg = avg + s.eps;
    if (s.use_momentum) {
      const float buf = momentum_buffer[i] * s.momentum + g / avg;
      momentum_buffer[i] = canonical_nan(buf);
      param[i] = canonical_nan(std::fma(buf, s.neg_lr, param[i]));
    } else {
      param[i] = canonical_nan(param[i] + s.neg_lr * g / avg);
    }
  }
}

// torch.optim.adagrad._single_tensor_adagrad (dense): grad.add(param, alpha=wd),
// state_sum.addcmul_(g, g, value=1) (a fused multiply-add), std = state_sum.sqrt().add_(eps),
// param.addcdiv_(g, std, value=-clr).
void adagrad(float* param, const float* grad, float* sum, const AdagradScalars& s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (s.use_weight_decay) g = std::fma(param[i], s.weight_decay, g);
    const float total = std::fma(g, g, sum[i]);
    sum[i] = canonical_nan(total);
    param[i] = canonical_nan(param[i] + s.neg_clr * g / (std::sqrt(total) + s.eps));
  }
}

}  // namespace

const OptimizerKernels kOptimizer{.sgd = sgd, .adam = adam, .rmsprop = rmsprop, .adagrad = adagrad};

}  // namespace odyssey::scalar
