// Whole-array optimizer steps: the hyper-parameters turned into PyTorch's float scalars, then the
// selected ISA's update over fixed-size parallel chunks.
#include "odyssey/optimizer.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace odyssey {

const OptimizerKernels* optimizer_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(OptimizerKernels, kOptimizer);
  return kTables.get(isa);
}

SgdScalars sgd_scalars(const SgdOptions& o) {
  // As in torch.optim.sgd._single_tensor_sgd: the Python floats (double) rounded to float where
  // they meet the tensors, the branches taken on the doubles.
  SgdScalars s{};
  s.neg_lr = static_cast<float>(-o.lr);
  s.momentum = static_cast<float>(o.momentum);
  s.one_minus_dampening = static_cast<float>(1.0 - o.dampening);
  s.weight_decay = static_cast<float>(o.weight_decay);
  s.use_weight_decay = o.weight_decay != 0.0;
  s.use_momentum = o.momentum != 0.0;
  s.nesterov = o.nesterov;
  s.first_step = o.first_step;
  return s;
}

AdamScalars adam_scalars(const AdamOptions& o) {
  // As in torch.optim.adam._single_tensor_adam: the bias corrections in Python floats (double,
  // through the C library's pow, as Python's ** calls it; bias_correction2 ** 0.5 too), rounded
  // to float where they meet the tensors. The step counter is a float32 tensor in torch, exact
  // for every step below 2^24.
  const double step = static_cast<double>(o.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, step);
  const bool decay = o.weight_decay != 0.0;
  const bool decoupled = o.decoupled_weight_decay;
  AdamScalars s{};
  s.lerp_weight = static_cast<float>(1.0 - o.beta1);
  s.beta2 = static_cast<float>(o.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - o.beta2);
  s.weight_decay = static_cast<float>(o.weight_decay);
  s.decay_factor = static_cast<float>(decay && decoupled ? 1.0 - o.lr * o.weight_decay : 1.0);
  s.neg_step_size = static_cast<float>(-(o.lr / bias_correction1));
  s.bias_correction2_sqrt = static_cast<float>(std::pow(bias_correction2, 0.5));
  s.eps = static_cast<float>(o.eps);
  s.coupled_weight_decay = decay && !decoupled;
  return s;
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
                        o.weight_decay != 0.0,
                        o.momentum != 0.0,
                        o.centered};
}

AdagradScalars adagrad_scalars(const AdagradOptions& o) {
  // clr = lr / (1 + (step - 1) * lr_decay) in double, as in _single_tensor_adagrad.
  const double clr = o.lr / (1.0 + static_cast<double>(o.step - 1) * o.lr_decay);
  return AdagradScalars{static_cast<float>(-clr), static_cast<float>(o.eps),
                        static_cast<float>(o.weight_decay), o.weight_decay != 0.0};
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

namespace {

// True when the arrays of different tensors share no memory, so that the tensors may be updated
// in any order or all at once. The arrays of one tensor never overlap (the step's contract), so
// any overlap between two sorted ranges is between two tensors.
bool disjoint_tensors(std::vector<std::pair<const float*, const float*>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return false;
  }
  return true;
}

// Calls update(tensor, begin, end) over the tensors laid end to end, [begin, end) within one
// tensor, in parallel chunks of that joint index space: one dispatch for the whole group, the small
// tensors sharing the pool with the large ones. Elementwise updates, so where the chunks fall
// changes no bit.
template <class Update>
void for_joint_chunks(const std::vector<std::size_t>& starts, std::size_t grain,
                      const Update& update) {
  const std::size_t count = starts.size() - 1;
  parallel_for(starts[count], grain, [&](std::size_t b, std::size_t e) {
    std::size_t i = static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), b) -
                                             starts.begin() - 1);
    for (; i < count && starts[i] < e; ++i) {
      const std::size_t lo = std::max(b, starts[i]) - starts[i];
      const std::size_t hi = std::min(e, starts[i + 1]) - starts[i];
      if (lo < hi) update(i, lo, hi);
    }
  });
}

void add_range(std::vector<std::pair<const float*, const float*>>& ranges, const float* p,
               std::size_t n) {
  if (p != nullptr && n > 0) ranges.emplace_back(p, p + n);
}

}  // namespace

void sgd_step_many(const SgdTensor* tensors, std::size_t count, const SgdOptions& options) {
  SgdOptions each = options;
  std::vector<SgdScalars> scalars(count);
  std::vector<std::size_t> starts(count + 1, 0);
  std::vector<std::pair<const float*, const float*>> ranges;
  ranges.reserve(3 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const SgdTensor& t = tensors[i];
    each.first_step = t.first_step;
    scalars[i] = sgd_scalars(each);
    starts[i + 1] = starts[i] + t.n;
    add_range(ranges, t.param, t.n);
    add_range(ranges, t.grad, t.n);
    add_range(ranges, t.momentum_buffer, t.n);
  }
  if (!disjoint_tensors(ranges)) {
    // Tensors sharing memory: one after another, as separate sgd_step calls would go.
    for (std::size_t i = 0; i < count; ++i) {
      const SgdTensor& t = tensors[i];
      each.first_step = t.first_step;
      sgd_step(t.param, t.grad, t.momentum_buffer, each, t.n);
    }
    return;
  }
  const auto kernel = optimizer_kernels().sgd;
  for_joint_chunks(starts, kSgdManyGrain, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    const SgdTensor& t = tensors[i];
    kernel(t.param + lo, t.grad + lo,
           t.momentum_buffer == nullptr ? nullptr : t.momentum_buffer + lo, scalars[i], hi - lo);
  });
}

void adam_step_many(const AdamTensor* tensors, std::size_t count, const AdamOptions& options) {
  AdamOptions each = options;
  std::vector<AdamScalars> scalars(count);
  std::vector<std::size_t> starts(count + 1, 0);
  std::vector<std::pair<const float*, const float*>> ranges;
  ranges.reserve(5 * count);
  for (std::size_t i = 0; i < count; ++i) {
    const AdamTensor& t = tensors[i];
    each.step = t.step;
    scalars[i] = adam_scalars(each);
    starts[i + 1] = starts[i] + t.n;
    add_range(ranges, t.param, t.n);
    add_range(ranges, t.grad, t.n);
    add_range(ranges, t.exp_avg, t.n);
    add_range(ranges, t.exp_avg_sq, t.n);
    add_range(ranges, t.max_exp_avg_sq, t.n);
  }
  if (!disjoint_tensors(ranges)) {
    for (std::size_t i = 0; i < count; ++i) {
      const AdamTensor& t = tensors[i];
      each.step = t.step;
      adam_step(t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, each, t.n);
    }
    return;
  }
  const auto kernel = optimizer_kernels().adam;
  for_joint_chunks(starts, kAdamManyGrain, [&](std::size_t i, std::size_t lo, std::size_t hi) {
    const AdamTensor& t = tensors[i];
    kernel(t.param + lo, t.grad + lo, t.exp_avg + lo, t.exp_avg_sq + lo,
           t.max_exp_avg_sq == nullptr ? nullptr : t.max_exp_avg_sq + lo, scalars[i], hi - lo);
  });
}

}  // namespace odyssey
