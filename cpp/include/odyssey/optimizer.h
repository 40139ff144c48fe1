// Fused optimizer updates: one pass over each parameter, in place, with the operations of
// torch.optim.SGD, Adam/AdamW, RMSprop and Adagrad (foreach=False) in PyTorch's order, so that the
// results match PyTorch's bit for bit (given a correctly rounded sqrt on PyTorch's side).
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

// The float scalars of one SGD step, rounded from the double hyper-parameters as PyTorch does.
// The branches are taken on the doubles, as torch tests the Python floats: a weight decay or a
// momentum too small for float32 still takes its branch, with a zero coefficient.
struct SgdScalars {
  float neg_lr;               // -lr
  float momentum;             // the momentum buffer's decay
  float one_minus_dampening;  // 1 - dampening
  float weight_decay;
  bool use_weight_decay;  // weight_decay != 0; skipped otherwise, so that inf * 0 cannot make a NaN
  bool use_momentum;      // momentum != 0: the momentum buffer is read (unless first_step) and set
  bool nesterov;
  bool first_step;  // buf = g instead of momentum * buf + (1 - dampening) * g
};

// The float scalars of one Adam step.
struct AdamScalars {
  float lerp_weight;  // 1 - beta1: m = lerp(m, g, 1 - beta1)
  float beta2;
  float one_minus_beta2;
  float weight_decay;           // coupled (Adam): g += weight_decay * param
  float decay_factor;           // decoupled (AdamW): param *= 1 - lr * weight_decay; 1 otherwise
  float neg_step_size;          // -lr / (1 - beta1^step)
  float bias_correction2_sqrt;  // (1 - beta2^step)^0.5
  float eps;
  bool coupled_weight_decay;  // weight_decay != 0 and not decoupled
};

// The float scalars of one RMSprop step.
struct RmspropScalars {
  float alpha;            // square_avg = alpha * square_avg + (1 - alpha) g g
  float one_minus_alpha;  // also the lerp weight of grad_avg (centered)
  float neg_lr;           // -lr
  float eps;
  float momentum;
  float weight_decay;
  bool use_weight_decay;  // weight_decay != 0 before rounding to float, as torch tests it
  bool use_momentum;      // momentum != 0 before rounding to float, as torch tests it
  bool centered;
};

// The float scalars of one Adagrad step.
struct AdagradScalars {
  float neg_clr;  // -lr / (1 + (step - 1) lr_decay), computed in double
  float eps;
  float weight_decay;
  bool use_weight_decay;  // weight_decay != 0 before rounding to float, as torch tests it
};

// One ISA's update over a contiguous range. Arrays must not overlap each other.
struct OptimizerKernels {
  // g = grad + wd * param; buf = g (first step) or momentum * buf + (1 - dampening) * g;
  // g = nesterov ? g + momentum * buf : buf; param -= lr * g. momentum_buffer is unused (may be
  // null) without momentum.
  void (*sgd)(float* param, const float* grad, float* momentum_buffer, const SgdScalars& s,
              std::size_t n);
  // param *= decay_factor (AdamW) or g = grad + wd * param (Adam); m = lerp(m, g, 1 - beta1);
  // v = beta2 v + (1 - beta2) g g; max_v = max(max_v, v) when max_exp_avg_sq is not null
  // (AMSGrad); param += -step_size * m / (sqrt(v) / bc2_sqrt + eps).
  void (*adam)(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamScalars& s, std::size_t n);
  // g = grad + wd * param; sq = alpha sq + (1 - alpha) g g; avg = sqrt(sq) + eps, or centered
  // (ga = lerp(ga, g, 1 - alpha)) sqrt(sq - ga ga) + eps; with momentum buf = momentum buf + g /
  // avg and param += -lr buf, else param += -lr g / avg. grad_avg (centered) and momentum_buffer
  // (momentum != 0) are unused (may be null) otherwise.
  void (*rmsprop)(float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buffer, const RmspropScalars& s, std::size_t n);
  // g = grad + wd * param; sum += g g; param += -clr g / (sqrt(sum) + eps).
  void (*adagrad)(float* param, const float* grad, float* sum, const AdagradScalars& s,
                  std::size_t n);
};

namespace scalar {
extern const OptimizerKernels kOptimizer;
}
namespace avx2 {
extern const OptimizerKernels kOptimizer;
}
namespace avx512 {
extern const OptimizerKernels kOptimizer;
}
namespace neon {
extern const OptimizerKernels kOptimizer;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const OptimizerKernels* optimizer_kernels(Isa isa);
inline const OptimizerKernels& optimizer_kernels() { return *optimizer_kernels(selected_isa()); }

struct SgdOptions {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = true;
};

struct AdamOptions {
  long long step = 1;  // counted from 1
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW
};

struct RmspropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

struct AdagradOptions {
  long long step = 1;  // counted from 1
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double eps = 1e-10;
};

// The float scalars PyTorch would use for these options (the bias corrections and Adagrad's
// decayed learning rate in double).
SgdScalars sgd_scalars(const SgdOptions& options);
AdamScalars adam_scalars(const AdamOptions& options);
RmspropScalars rmsprop_scalars(const RmspropOptions& options);
AdagradScalars adagrad_scalars(const AdagradOptions& options);

// Whole-array steps: the selected ISA over fixed-size parallel chunks. Options are not checked
// here; the bindings do that.
void sgd_step(float* param, const float* grad, float* momentum_buffer, const SgdOptions& options,
              std::size_t n);
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, const AdamOptions& options, std::size_t n);
void rmsprop_step(float* param, const float* grad, float* square_avg, float* grad_avg,
                  float* momentum_buffer, const RmspropOptions& options, std::size_t n);
void adagrad_step(float* param, const float* grad, float* sum, const AdagradOptions& options,
                  std::size_t n);

// One parameter of a multi-tensor step: its arrays (n floats each) and its own first_step (SGD)
// or step count (Adam). Unused state pointers may be null, as in the single-array steps.
struct SgdTensor {
  float* param;
  const float* grad;
  float* momentum_buffer;
  std::size_t n;
  bool first_step;
};
struct AdamTensor {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;
  std::size_t n;
  long long step;
};

// A group's step in one call (torch's foreach, without its Python cost per parameter), with the
// bits of one sgd_step/adam_step call per tensor in order. Each tensor's first_step / step replaces
// the one in `options`. Tensors whose arrays are disjoint from every other tensor's are updated as
// one index space in parallel chunks (the updates are elementwise); otherwise one after another.
//
// Elements per parallel chunk of that joint space, by how much work an element costs. SGD: 4x the
// elementwise grain, since an update moves 4-7 arrays to an elementwise op's 2. A whole model below
// it (LeNet-5's 61,706 parameters: about 25 us of SGD with momentum on one core) runs on the
// calling thread, where waking the pool cost more than the split saved (sgd_step_many of LeNet-5's
// tensors, 1 / 2 threads: 46 / 74 us on a shared machine). The update is bound by memory traffic,
// 20 bytes an element with momentum: about 24 us with the arrays in L2 (~50 GB/s) and 46-50 us in a
// training step, where the forward and backward passes have pushed them out to L3 (~25 GB/s);
// register-resident loop constants and software prefetch each measured no change, and 2 threads
// none on a loaded 2-core machine. Adam divides by a square root per element, about 2.5x SGD's
// time on one core, and pays for a split: LeNet-5's tensors in 4 chunks took 73 us on 2 threads
// against 107 us on the calling thread alone (101 us on 1 thread; the same builds side by side).
inline constexpr std::size_t kSgdManyGrain = std::size_t{1} << 17;
inline constexpr std::size_t kAdamManyGrain = std::size_t{1} << 14;
void sgd_step_many(const SgdTensor* tensors, std::size_t count, const SgdOptions& options);
void adam_step_many(const AdamTensor* tensors, std::size_t count, const AdamOptions& options);

}  // namespace odyssey
