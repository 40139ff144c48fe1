// The optimizer updates written once over a lane type V; each *_<isa>.cc instantiates them with
// its own V. The operations and their order are those of the scalar reference, fused multiply-adds
// included, so every variant gives the reference's bits, and every value stored goes through
// store_n, which writes the one canonical NaN for any NaN (see there).
#pragma once

#include <cstddef>
#include <limits>

#include "odyssey/optimizer.h"
#include "odyssey/simd/elementwise.h"

namespace odyssey::simd {

// Calls step(i, count) for every block of at most V::kLanes elements: a shorter head that brings
// `param` to a vector-size boundary (stores that split cache lines cost these memory-bound loops up
// to a fifth of their throughput), full vectors, then a shorter tail. Elementwise, so the blocking
// never changes a result.
template <class V, class Step>
void for_blocks(const float* param, std::size_t n, const Step& step) {
  std::size_t i = head_length<V>(param, n);
  if (i > 0) step(0, i);
  for (; i + V::kLanes <= n; i += V::kLanes) step(i, V::kLanes);
  if (i < n) step(i, n - i);
}

template <class V>
typename V::T load_n(const float* p, std::size_t count) {
  return count == V::kLanes ? V::load(p) : V::load_first(p, count);
}

// Stores v with every NaN lane replaced by the canonical quiet NaN (+, payload 0), as the scalar
// reference's canonical_nan does. Which NaN an operation with two NaN operands passes on (x86 keeps
// the first source's, sign and payload) follows the operand order the compiler picks for that
// instruction, and GCC commutes vector adds, multiplies and FMAs freely: the alignment head and
// tail (masked loads in registers) and the full-vector body (loads folded into memory operands)
// come out with different orders, so without this a NaN's sign would depend on the arrays'
// addresses. Every non-NaN result is exact whichever order the compiler picks.
template <class V>
void store_n(float* p, typename V::T v, std::size_t count) {
  v = V::select(V::is_nan(v), V::set1(std::numeric_limits<float>::quiet_NaN()), v);
  if (count == V::kLanes) {
    V::store(p, v);
  } else {
    V::store_first(p, v, count);
  }
}

template <class V>
void sgd(float* param, const float* grad, float* momentum_buffer, const SgdScalars& s,
         std::size_t n) {
  using T = typename V::T;
  const T neg_lr = V::set1(s.neg_lr), momentum = V::set1(s.momentum);
  const T one_minus_dampening = V::set1(s.one_minus_dampening), decay = V::set1(s.weight_decay);
  for_blocks<V>(param, n, [&](std::size_t i, std::size_t count) {
    const T p = load_n<V>(param + i, count);
    T g = load_n<V>(grad + i, count);
    if (s.use_weight_decay) g = V::fmadd(p, decay, g);
    if (s.use_momentum) {
      T buf = g;
      if (!s.first_step) {
        buf = V::fmadd(g, one_minus_dampening,
                       V::mul(load_n<V>(momentum_buffer + i, count), momentum));
      }
      store_n<V>(momentum_buffer + i, buf, count);
      g = s.nesterov ? V::fmadd(buf, momentum, g) : buf;
    }
    store_n<V>(param + i, V::fmadd(g, neg_lr, p), count);
  });
}

template <class V>
void adam(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq,
          const AdamScalars& s, std::size_t n) {
  using T = typename V::T;
  const T decay_factor = V::set1(s.decay_factor), decay = V::set1(s.weight_decay);
  const T beta2 = V::set1(s.beta2), one_minus_beta2 = V::set1(s.one_minus_beta2);
  const T neg_step_size = V::set1(s.neg_step_size), eps = V::set1(s.eps);
  const T bias_correction2_sqrt = V::set1(s.bias_correction2_sqrt);
  // lerp from the nearer end, as PyTorch does: w (m + w (g - m)) or w - 1 (g + (w - 1)(g - m)).
  const bool from_start = s.lerp_weight < 0.5f;
  const T lerp_coefficient = V::set1(from_start ? s.lerp_weight : s.lerp_weight - 1.0f);
  for_blocks<V>(param, n, [&](std::size_t i, std::size_t count) {
    const T p = V::mul(load_n<V>(param + i, count), decay_factor);
    T g = load_n<V>(grad + i, count);
    if (s.coupled_weight_decay) g = V::fmadd(p, decay, g);
    const T m_old = load_n<V>(exp_avg + i, count);
    const T m = V::fmadd(lerp_coefficient, V::sub(g, m_old), from_start ? m_old : g);
    // exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2): fma((1 - beta2) g, g, beta2 v).
    T v = V::fmadd(V::mul(one_minus_beta2, g), g, V::mul(load_n<V>(exp_avg_sq + i, count), beta2));
    store_n<V>(exp_avg + i, m, count);
    store_n<V>(exp_avg_sq + i, v, count);
    if (max_exp_avg_sq != nullptr) {
      // torch.maximum: the larger, or v_max when it is NaN (v when v is: compares are ordered).
      const T v_max = load_n<V>(max_exp_avg_sq + i, count);
      v = V::select_le(v_max, v_max, V::select_gt(v_max, v, v_max, v), v_max);
      store_n<V>(max_exp_avg_sq + i, v, count);
    }
    const T denom = V::add(V::div(V::sqrt(v), bias_correction2_sqrt), eps);
    store_n<V>(param + i, V::add(p, V::div(V::mul(neg_step_size, m), denom)), count);
  });
}

template <class V>
void rmsprop(float* param, const float* grad, float* square_avg, float* grad_avg,
             float* momentum_buffer, const RmspropScalars& s, std::size_t n) {
  using T = typename V::T;
  const T alpha = V::set1(s.alpha), one_minus_alpha = V::set1(s.one_minus_alpha);
  const T neg_lr = V::set1(s.neg_lr), eps = V::set1(s.eps), momentum = V::set1(s.momentum);
  const T decay = V::set1(s.weight_decay);
  // grad_avg's lerp from the nearer end, as in adam.
  const bool from_start = s.one_minus_alpha < 0.5f;
  const T lerp_coefficient = V::set1(from_start ? s.one_minus_alpha : s.one_minus_alpha - 1.0f);
  for_blocks<V>(param, n, [&](std::size_t i, std::size_t count) {
    const T p = load_n<V>(param + i, count);
    T g = load_n<V>(grad + i, count);
    if (s.use_weight_decay) g = V::fmadd(p, decay, g);
    const T sq =
        V::fmadd(V::mul(one_minus_alpha, g), g, V::mul(load_n<V>(square_avg + i, count), alpha));
    store_n<V>(square_avg + i, sq, count);
    T avg;
    if (s.centered) {
      const T ga_old = load_n<V>(grad_avg + i, count);
      const T ga = V::fmadd(lerp_coefficient, V::sub(g, ga_old), from_start ? ga_old : g);
      store_n<V>(grad_avg + i, ga, count);
      avg = V::sqrt(V::fnmadd(ga, ga, sq));
    } else {
      avg = V::sqrt(sq);
    }
    avg = V::add(avg, eps);
    if (s.use_momentum) {
      const T buf = V::add(V::mul(load_n<V>(momentum_buffer + i, count), momentum), V::div(g, avg));
      store_n<V>(momentum_buffer + i, buf, count);
      store_n<V>(param + i, V::fmadd(buf, neg_lr, p), count);
    } else {
      store_n<V>(param + i, V::add(p, V::div(V::mul(neg_lr, g), avg)), count);
    }
  });
}

template <class V>
void adagrad(float* param, const float* grad, float* sum, const AdagradScalars& s, std::size_t n) {
  using T = typename V::T;
  const T neg_clr = V::set1(s.neg_clr), eps = V::set1(s.eps), decay = V::set1(s.weight_decay);
  for_blocks<V>(param, n, [&](std::size_t i, std::size_t count) {
    const T p = load_n<V>(param + i, count);
    T g = load_n<V>(grad + i, count);
    if (s.use_weight_decay) g = V::fmadd(p, decay, g);
    const T total = V::fmadd(g, g, load_n<V>(sum + i, count));
    store_n<V>(sum + i, total, count);
    const T denom = V::add(V::sqrt(total), eps);
    store_n<V>(param + i, V::add(p, V::div(V::mul(neg_clr, g), denom)), count);
  });
}

template <class V>
constexpr OptimizerKernels optimizer_kernels_for() {
  return OptimizerKernels{
      .sgd = sgd<V>, .adam = adam<V>, .rmsprop = rmsprop<V>, .adagrad = adagrad<V>};
}

}  // namespace odyssey::simd
