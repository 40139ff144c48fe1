// Whole-array optimizer steps: the hyper-parameters turned into PyTorch's float scalars, then the
// selected ISA's update over fixed-size parallel chunks.
#include "odyssey/optimizer.h"

#include <cmath>

#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace odyssey {

const OptimizerKernels* optimizer_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(OptimizerKernels, kOptimizer);
  return kTables.get(isa);
}

SgdScalars sgd_scalars(const SgdOptions& o) {
  return SgdScalars{static_cast<float>(-o.lr),
                    static_cast<float>(o.momentum),
                    static_cast<float>(1.0 - o.dampening),
                    static_cast<float>(o.weight_decay),
                    o.nesterov,
                    o.first_step};
}

AdamScalars adam_scalars(const AdamOptions& o) {
  // As in torch.optim.adam._single_tensor_adam: Python floats (double) rounded to float where they
  // meet the tensors.
  const double step = static_cast<double>(o.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, step);
  const bool decoupled = o.decoupled_weight_decay;
  return AdamScalars{static_cast<float>(1.0 - o.beta1),
                     static_cast<float>(o.beta2),
                     static_cast<float>(1.0 - o.beta2),
                     static_cast<float>(decoupled ? 0.0 : o.weight_decay),
                     static_cast<float>(decoupled ? 1.0 - o.lr * o.weight_decay : 1.0),
                     static_cast<float>(-(o.lr / bias_correction1)),
                     static_cast<float>(std::sqrt(bias_correction2)),
                     static_cast<float>(o.eps)};
}

RmspropScalars rmsprop_scalars(const RmspropOptions& o) {
  // torch.optim.rmsprop._single_tensor_rmsprop passes alpha, 1 - alpha (computed in double), eps,
  // momentum and -lr to the tensor operations, which round each to float.
  return RmspropScalars{static_cast<float>(o.alpha),
                        static_cast<float>(1.0 - o.alpha),
                        static_cast<float>(-o.lr),
                        static_cast<float>(o.eps),
                        static_cast<float>(o.momentum),
                        static_cast<float>(o.weight_decay),
                        o.momentum != 0.0,
                        o.centered};
}

AdagradScalars adagrad_scalars(const AdagradOptions& o) {
  // clr = lr / (1 + (step - 1) * lr_decay) in double, as in _single_tensor_adagrad.
  const double clr = o.lr / (1.0 + static_cast<double>(o.step - 1) * o.lr_decay);
  return AdagradScalars{static_cast<float>(-clr), static_cast<float>(o.eps),
                        static_cast<float>(o.weight_decay)};
}

void sgd_step(float* param, const float* grad, float* momentum_buffer, const SgdOptions& options,
              std::size_t n) {
  const auto kernel = optimizer_kernels().sgd;
  const SgdScalars scalars = sgd_scalars(options);
  parallel_for(n, kEltwiseGrain, [&](std::size_t b, std::size_t e) {
    kernel(param + b, grad + b, momentum_buffer == nullptr ? nullptr : momentum_buffer + b, scalars,
           e - b);
  });
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamOptions& options, std::size_t n) {
  const auto kernel = optimizer_kernels().adam;
  const AdamScalars scalars = adam_scalars(options);
  parallel_for(n, kEltwiseGrain, [&](std::size_t b, std::size_t e) {
    kernel(param + b, grad + b, exp_avg + b, exp_avg_sq + b,
           max_exp_avg_sq == nullptr ? nullptr : max_exp_avg_sq + b, scalars, e - b);
  });
}

void rmsprop_step(float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buffer, const RmspropOptions& options, std::size_t n) {
  const auto kernel = optimizer_kernels().rmsprop;
  const RmspropScalars scalars = rmsprop_scalars(options);
  parallel_for(n, kEltwiseGrain, [&](std::size_t b, std::size_t e) {
    kernel(param + b, grad + b, square_avg + b, grad_avg == nullptr ? nullptr : grad_avg + b,
           momentum_buffer == nullptr ? nullptr : momentum_buffer + b, scalars, e - b);
  });
}

void adagrad_step(float* param, const float* grad, float* sum, const AdagradOptions& options,
                  std::size_t n) {
  const auto kernel = optimizer_kernels().adagrad;
  const AdagradScalars scalars = adagrad_scalars(options);
  parallel_for(n, kEltwiseGrain, [&](std::size_t b, std::size_t e) {
    kernel(param + b, grad + b, sum + b, scalars, e - b);
  });
}

}  // namespace odyssey
