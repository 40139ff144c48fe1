// The fused SGD, Adam, RMSprop and Adagrad updates on every compiled and runnable SIMD variant
// against the scalar reference over several steps with every option, odd sizes and arrays at every
// float offset 0..16: the same bits (the variants perform exactly the reference's operations; the
// kernels are built with -ffp-contract=off), NaN and infinities included. The scalar reference
// against PyTorch's operations written out here one by one; thread-count determinism and address
// invariance.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "float_buffers.h"
#include "odyssey/eltwise.h"
#include "odyssey/optimizer.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::test::Buffer;
using odyssey::test::same_bits;

constexpr int kSteps = 4;

std::vector<odyssey::SgdOptions> sgd_cases() {
  std::vector<odyssey::SgdOptions> cases;
  // 1e-50 rounds to 0 in float32 but still takes its branch, as in torch.
  for (double momentum : {0.0, 0.9, 1e-50}) {
    for (double weight_decay : {0.0, 1e-2, 1e-50}) {
      for (double dampening : {0.0, 0.3}) {
        for (bool nesterov : {false, true}) {
          if (nesterov && (momentum == 0.0 || dampening != 0.0)) continue;
          if ((momentum == 1e-50 && weight_decay != 0.0) ||
              (weight_decay == 1e-50 && momentum != 0.9))
            continue;
          odyssey::SgdOptions o;
          o.lr = 0.05;
          o.momentum = momentum;
          o.dampening = dampening;
          o.weight_decay = weight_decay;
          o.nesterov = nesterov;
          cases.push_back(o);
        }
      }
    }
  }
  return cases;
}

std::vector<odyssey::AdamOptions> adam_cases() {
  std::vector<odyssey::AdamOptions> cases;
  for (double weight_decay : {0.0, 0.1, 1e-50}) {
    for (bool decoupled : {false, true}) {
      // beta1 0.9 lerps exp_avg from its start, 0.3 from its end.
      for (double beta1 : {0.9, 0.3}) {
        for (double eps : {1e-8, 1e-3}) {
          odyssey::AdamOptions o;
          o.lr = 1e-2;
          o.beta1 = beta1;
          o.beta2 = beta1 == 0.9 ? 0.999 : 0.5;
          o.eps = eps;
          o.weight_decay = weight_decay;
          o.decoupled_weight_decay = decoupled;
          cases.push_back(o);
        }
      }
    }
  }
  return cases;
}

// Step `step`'s gradient: normal values whose scale changes from step to step, or with zeros,
// NaN, infinities and extreme values mixed in.
std::vector<float> gradient(std::size_t n, int step, std::uint32_t seed, bool special) {
  return special ? odyssey::test::special_floats(n, seed + step)
                 : odyssey::test::normal_floats(n, 1.0f + 0.5f * step, seed + step);
}

// Special values (zeros, NaN, infinities, huge) at positions shift, shift + 7, ..., normal values
// elsewhere; every value made non-negative, as a mean square is.
std::vector<float> shifted_special_floats(std::size_t n, std::size_t shift) {
  std::vector<float> values = odyssey::test::special_floats(n + 7, 500 + shift);
  values.erase(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(7 - shift));
  values.resize(n);
  for (float& value : values) value = std::fabs(value);
  return values;
}

std::vector<float> run_sgd(odyssey::SgdOptions o, const std::vector<float>& param0,
                           std::size_t offset, bool special = false) {
  const std::size_t n = param0.size();
  Buffer param(param0, offset), buffer(std::vector<float>(n), offset);
  for (int step = 0; step < kSteps; ++step) {
    Buffer grad(gradient(n, step, 100, special), offset);
    o.first_step = step == 0;
    odyssey::sgd_step(param.data(), grad.data(), o.momentum != 0.0 ? buffer.data() : nullptr, o, n);
  }
  CHECK_NOTE(param.guard_intact() && buffer.guard_intact(), "sgd wrote past the end");
  std::vector<float> result = param.values();
  const std::vector<float> state = buffer.values();
  result.insert(result.end(), state.begin(), state.end());
  return result;
}

std::vector<float> run_adam(odyssey::AdamOptions o, bool amsgrad, const std::vector<float>& param0,
                            std::size_t offset, bool special = false) {
  const std::size_t n = param0.size();
  const std::vector<float> zeros(n);
  Buffer param(param0, offset), m(zeros, offset), v(zeros, offset), v_max(zeros, offset);
  if (special) {
    // A state under way with special values where the gradient has none, and NaN in v_max where
    // v is finite, so that AMSGrad's maximum meets NaN on either side.
    m = Buffer(shifted_special_floats(n, 1), offset);
    v = Buffer(shifted_special_floats(n, 2), offset);
    v_max = Buffer(shifted_special_floats(n, 4), offset);
  }
  for (int step = 1; step <= kSteps; ++step) {
    Buffer grad(gradient(n, step, 200, special), offset);
    o.step = step;
    odyssey::adam_step(param.data(), grad.data(), m.data(), v.data(),
                       amsgrad ? v_max.data() : nullptr, o, n);
  }
  CHECK_NOTE(param.guard_intact() && m.guard_intact() && v.guard_intact() && v_max.guard_intact(),
             "adam wrote past the end");
  std::vector<float> result = param.values();
  for (const Buffer* state : {&m, &v, &v_max}) {
    const std::vector<float> values = state->values();
    result.insert(result.end(), values.begin(), values.end());
  }
  return result;
}

// SGD and Adam: every variant gives the scalar reference's bits, at every float offset.
void check_sgd_adam_variants() {
  for (std::size_t n : odyssey::test::kOddSizes) {
    const std::vector<float> param0 = odyssey::test::normal_floats(n, 1.0f, 7);
    for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
      const std::string size = " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      int case_index = 0;
      for (const odyssey::SgdOptions& o : sgd_cases()) {
        odyssey::select_isa(odyssey::Isa::kScalar);
        const std::vector<float> want = run_sgd(o, param0, offset);
        for (odyssey::Isa isa : odyssey::test::simd_isas()) {
          odyssey::select_isa(isa);
          CHECK_NOTE(same_bits(want, run_sgd(o, param0, offset)),
                     std::string("sgd case ") + std::to_string(case_index) + " " +
                         odyssey::isa_name(isa) + size);
        }
        ++case_index;
      }
      case_index = 0;
      for (const odyssey::AdamOptions& o : adam_cases()) {
        for (bool amsgrad : {false, true}) {
          odyssey::select_isa(odyssey::Isa::kScalar);
          const std::vector<float> want = run_adam(o, amsgrad, param0, offset);
          for (odyssey::Isa isa : odyssey::test::simd_isas()) {
            odyssey::select_isa(isa);
            CHECK_NOTE(same_bits(want, run_adam(o, amsgrad, param0, offset)),
                       std::string("adam case ") + std::to_string(case_index) + " amsgrad=" +
                           std::to_string(amsgrad) + " " + odyssey::isa_name(isa) + size);
          }
        }
        ++case_index;
      }
    }
  }
}

// Zeros, NaN, infinities and huge gradients (g * g overflows): NaN where the reference has NaN
// (AMSGrad's maximum keeps a NaN, as torch.maximum does), the same bits elsewhere.
void check_sgd_adam_special_values() {
  const std::size_t n = 1000;
  const std::vector<float> param0 = odyssey::test::special_floats(n, 11);
  int case_index = 0;
  for (const odyssey::SgdOptions& o : sgd_cases()) {
    odyssey::select_isa(odyssey::Isa::kScalar);
    const std::vector<float> want = run_sgd(o, param0, 3, true);
    for (odyssey::Isa isa : odyssey::test::simd_isas()) {
      odyssey::select_isa(isa);
      CHECK_NOTE(same_bits(want, run_sgd(o, param0, 3, true)), std::string("sgd special case ") +
                                                                   std::to_string(case_index) +
                                                                   " " + odyssey::isa_name(isa));
    }
    ++case_index;
  }
  case_index = 0;
  for (const odyssey::AdamOptions& o : adam_cases()) {
    for (bool amsgrad : {false, true}) {
      odyssey::select_isa(odyssey::Isa::kScalar);
      const std::vector<float> want = run_adam(o, amsgrad, param0, 3, true);
      for (odyssey::Isa isa : odyssey::test::simd_isas()) {
        odyssey::select_isa(isa);
        CHECK_NOTE(same_bits(want, run_adam(o, amsgrad, param0, 3, true)),
                   std::string("adam special case ") + std::to_string(case_index) +
                       " amsgrad=" + std::to_string(amsgrad) + " " + odyssey::isa_name(isa));
      }
    }
    ++case_index;
  }
}

std::vector<odyssey::RmspropOptions> rmsprop_cases() {
  std::vector<odyssey::RmspropOptions> cases;
  for (double weight_decay : {0.0, 0.1}) {
    for (double momentum : {0.0, 0.9}) {
      for (bool centered : {false, true}) {
        // alpha 0.99 lerps grad_avg from its start, 0.3 from its end.
        for (double alpha : {0.99, 0.3}) {
          odyssey::RmspropOptions o;
          o.lr = 1e-2;
          o.alpha = alpha;
          o.eps = 1e-8;
          o.weight_decay = weight_decay;
          o.momentum = momentum;
          o.centered = centered;
          cases.push_back(o);
        }
      }
    }
  }
  return cases;
}

std::vector<odyssey::AdagradOptions> adagrad_cases() {
  std::vector<odyssey::AdagradOptions> cases;
  for (double weight_decay : {0.0, 0.1}) {
    for (double lr_decay : {0.0, 0.1}) {
      odyssey::AdagradOptions o;
      o.lr = 5e-2;
      o.lr_decay = lr_decay;
      o.weight_decay = weight_decay;
      cases.push_back(o);
    }
  }
  return cases;
}

std::vector<float> run_rmsprop(const odyssey::RmspropOptions& o, const std::vector<float>& param0,
                               std::size_t offset) {
  const std::size_t n = param0.size();
  const std::vector<float> zeros(n);
  Buffer param(param0, offset), square_avg(zeros, offset), grad_avg(zeros, offset),
      buffer(zeros, offset);
  for (int step = 0; step < kSteps; ++step) {
    // The gradient's scale changes, so that the centered variance stays positive but varies.
    Buffer grad(odyssey::test::normal_floats(n, 1.0f + step, 300 + step), offset);
    odyssey::rmsprop_step(param.data(), grad.data(), square_avg.data(),
                          o.centered ? grad_avg.data() : nullptr,
                          o.momentum != 0.0 ? buffer.data() : nullptr, o, n);
  }
  CHECK_NOTE(param.guard_intact() && square_avg.guard_intact() && grad_avg.guard_intact() &&
                 buffer.guard_intact(),
             "rmsprop wrote past the end");
  std::vector<float> result = param.values();
  for (const Buffer* state : {&square_avg, &grad_avg, &buffer}) {
    const std::vector<float> values = state->values();
    result.insert(result.end(), values.begin(), values.end());
  }
  return result;
}

std::vector<float> run_adagrad(odyssey::AdagradOptions o, const std::vector<float>& param0,
                               std::size_t offset) {
  const std::size_t n = param0.size();
  Buffer param(param0, offset), sum(std::vector<float>(n, 0.1f), offset);
  for (int step = 1; step <= kSteps; ++step) {
    Buffer grad(odyssey::test::normal_floats(n, 1.0f, 400 + step), offset);
    o.step = step;
    odyssey::adagrad_step(param.data(), grad.data(), sum.data(), o, n);
  }
  CHECK_NOTE(param.guard_intact() && sum.guard_intact(), "adagrad wrote past the end");
  std::vector<float> result = param.values();
  const std::vector<float> values = sum.values();
  result.insert(result.end(), values.begin(), values.end());
  return result;
}

// RMSprop and Adagrad: every variant gives the scalar reference's bits, at every float offset.
void check_rmsprop_adagrad_variants() {
  for (std::size_t n : odyssey::test::kOddSizes) {
    const std::vector<float> param0 = odyssey::test::normal_floats(n, 1.0f, 8);
    for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
      const std::string size = " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      int case_index = 0;
      for (const odyssey::RmspropOptions& o : rmsprop_cases()) {
        odyssey::select_isa(odyssey::Isa::kScalar);
        const std::vector<float> want = run_rmsprop(o, param0, offset);
        for (odyssey::Isa isa : odyssey::test::simd_isas()) {
          odyssey::select_isa(isa);
          CHECK_NOTE(same_bits(want, run_rmsprop(o, param0, offset)),
                     std::string("rmsprop case ") + std::to_string(case_index) + " " +
                         odyssey::isa_name(isa) + size);
        }
        ++case_index;
      }
      case_index = 0;
      for (const odyssey::AdagradOptions& o : adagrad_cases()) {
        odyssey::select_isa(odyssey::Isa::kScalar);
        const std::vector<float> want = run_adagrad(o, param0, offset);
        for (odyssey::Isa isa : odyssey::test::simd_isas()) {
          odyssey::select_isa(isa);
          CHECK_NOTE(same_bits(want, run_adagrad(o, param0, offset)),
                     std::string("adagrad case ") + std::to_string(case_index) + " " +
                         odyssey::isa_name(isa) + size);
        }
        ++case_index;
      }
    }
  }
}

// The scalar reference against the formulas written out here in float, operation by operation
// in PyTorch's order (addcmul a fused multiply-add, addcdiv not), on a few values (including a
// zero gradient and a zero accumulator).
void check_rmsprop_adagrad_reference() {
  odyssey::select_isa(odyssey::Isa::kScalar);
  const std::vector<float> p0 = {0.5f, -1.25f, 2.0f, 0.0f, 3.0f};
  const std::vector<float> g0 = {0.1f, 0.0f, -2.5f, 1.0f, -0.03f};
  for (const odyssey::RmspropOptions& o : rmsprop_cases()) {
    std::vector<float> p = p0, g = g0, sq(5, 0.25f), ga(5, 0.125f), buf(5, -0.5f);
    odyssey::rmsprop_step(p.data(), g.data(), sq.data(), o.centered ? ga.data() : nullptr,
                          o.momentum != 0.0 ? buf.data() : nullptr, o, 5);
    for (std::size_t i = 0; i < 5; ++i) {
      float grad = g0[i];
      if (o.weight_decay != 0.0) grad = std::fma(p0[i], static_cast<float>(o.weight_decay), grad);
      volatile float decayed = 0.25f * static_cast<float>(o.alpha);
      volatile float scaled = static_cast<float>(1.0 - o.alpha) * grad;
      const float square = std::fma(static_cast<float>(scaled), grad, decayed);
      float avg = std::sqrt(square);
      if (o.centered) {
        const float w = static_cast<float>(1.0 - o.alpha);
        const float mean =
            w < 0.5f ? std::fma(w, grad - 0.125f, 0.125f) : std::fma(w - 1.0f, grad - 0.125f, grad);
        CHECK_NOTE(same_bits({mean}, {ga[i]}), "rmsprop reference grad_avg");
        avg = std::sqrt(std::fma(-mean, mean, square));
      }
      avg = avg + static_cast<float>(o.eps);
      float want;
      if (o.momentum != 0.0) {
        volatile float b = -0.5f * static_cast<float>(o.momentum);
        b = b + grad / avg;
        CHECK_NOTE(same_bits({b}, {buf[i]}), "rmsprop reference momentum_buffer");
        want = std::fma(static_cast<float>(b), static_cast<float>(-o.lr), p0[i]);
      } else {
        volatile float step = static_cast<float>(-o.lr) * grad;
        want = p0[i] + step / avg;
      }
      CHECK_NOTE(same_bits({square}, {sq[i]}), "rmsprop reference square_avg");
      CHECK_NOTE(same_bits({want}, {p[i]}), "rmsprop reference param");
    }
  }
  for (odyssey::AdagradOptions o : adagrad_cases()) {
    o.step = 3;
    std::vector<float> p = p0, g = g0, sum = {0.0f, 0.0f, 1.0f, 2.0f, 0.5f};
    const std::vector<float> sum0 = sum;
    odyssey::adagrad_step(p.data(), g.data(), sum.data(), o, 5);
    const float neg_clr = static_cast<float>(-(o.lr / (1.0 + 2.0 * o.lr_decay)));
    for (std::size_t i = 0; i < 5; ++i) {
      float grad = g0[i];
      if (o.weight_decay != 0.0) grad = std::fma(p0[i], static_cast<float>(o.weight_decay), grad);
      const float total = std::fma(grad, grad, sum0[i]);
      volatile float step = neg_clr * grad;
      const float want = p0[i] + step / (std::sqrt(total) + static_cast<float>(o.eps));
      CHECK_NOTE(same_bits({total}, {sum[i]}), "adagrad reference sum");
      CHECK_NOTE(same_bits({want}, {p[i]}), "adagrad reference param");
    }
  }
}

// The SGD and Adam references against torch's tensor operations written out here in float, one
// by one (add with alpha, lerp and addcmul fused multiply-adds; mul, div, sqrt and addcdiv not),
// on a few values including zeros.
void check_sgd_adam_reference() {
  odyssey::select_isa(odyssey::Isa::kScalar);
  const std::vector<float> p0 = {0.5f, -1.25f, 2.0f, 0.0f, 3.0f, -0.7f};
  const std::vector<float> g0 = {0.1f, 0.0f, -2.5f, 1.0f, -0.03f, 7.0f};
  const std::vector<float> buf0 = {-0.5f, 0.25f, 0.0f, 1.5f, -2.0f, 0.3f};
  for (odyssey::SgdOptions o : sgd_cases()) {
    for (bool first_step : {true, false}) {
      o.first_step = first_step;
      std::vector<float> p = p0, buf = buf0;
      const bool momentum = o.momentum != 0.0;
      odyssey::sgd_step(p.data(), g0.data(), momentum ? buf.data() : nullptr, o, p.size());
      for (std::size_t i = 0; i < p.size(); ++i) {
        float g = g0[i];
        if (o.weight_decay != 0.0) g = std::fma(p0[i], static_cast<float>(o.weight_decay), g);
        if (momentum) {
          float b = g;
          if (!first_step) {
            volatile float decayed = buf0[i] * static_cast<float>(o.momentum);
            b = std::fma(g, static_cast<float>(1.0 - o.dampening), static_cast<float>(decayed));
          }
          CHECK_NOTE(same_bits({b}, {buf[i]}), "sgd reference momentum_buffer");
          g = o.nesterov ? std::fma(b, static_cast<float>(o.momentum), g) : b;
        }
        const float want = std::fma(g, static_cast<float>(-o.lr), p0[i]);
        CHECK_NOTE(same_bits({want}, {p[i]}), "sgd reference param");
      }
    }
  }
  const std::vector<float> m0 = {0.05f, -0.2f, 0.0f, 0.3f, 1.0f, -0.01f};
  const std::vector<float> v0 = {0.01f, 0.5f, 0.0f, 2.0f, 0.25f, 1e-6f};
  const std::vector<float> v_max0 = {0.02f, 0.1f, 0.0f, 3.0f, 0.2f, 1e-7f};
  for (odyssey::AdamOptions o : adam_cases()) {
    o.step = 3;
    for (bool amsgrad : {false, true}) {
      std::vector<float> p = p0, m = m0, v = v0, v_max = v_max0;
      odyssey::adam_step(p.data(), g0.data(), m.data(), v.data(), amsgrad ? v_max.data() : nullptr,
                         o, p.size());
      const double bias_correction1 = 1.0 - std::pow(o.beta1, 3.0);
      const double bias_correction2 = 1.0 - std::pow(o.beta2, 3.0);
      for (std::size_t i = 0; i < p.size(); ++i) {
        float param = p0[i], g = g0[i];
        if (o.weight_decay != 0.0) {
          if (o.decoupled_weight_decay) {
            param = param * static_cast<float>(1.0 - o.lr * o.weight_decay);
          } else {
            g = std::fma(param, static_cast<float>(o.weight_decay), g);
          }
        }
        const float w = static_cast<float>(1.0 - o.beta1);
        const float mean =
            w < 0.5f ? std::fma(w, g - m0[i], m0[i]) : std::fma(w - 1.0f, g - m0[i], g);
        volatile float decayed = v0[i] * static_cast<float>(o.beta2);
        volatile float scaled = static_cast<float>(1.0 - o.beta2) * g;
        float square = std::fma(static_cast<float>(scaled), g, static_cast<float>(decayed));
        CHECK_NOTE(same_bits({mean}, {m[i]}), "adam reference exp_avg");
        CHECK_NOTE(same_bits({square}, {v[i]}), "adam reference exp_avg_sq");
        if (amsgrad) {
          square = std::fmax(v_max0[i], square);
          CHECK_NOTE(same_bits({square}, {v_max[i]}), "adam reference max_exp_avg_sq");
        }
        // bias_correction2 ** 0.5 in Python: the C library's pow.
        volatile float scaled_root =
            std::sqrt(square) / static_cast<float>(std::pow(bias_correction2, 0.5));
        const float denom = scaled_root + static_cast<float>(o.eps);
        volatile float step = static_cast<float>(-(o.lr / bias_correction1)) * mean;
        const float want = param + step / denom;
        CHECK_NOTE(same_bits({want}, {p[i]}), "adam reference param");
      }
    }
  }
}

void check_threads() {
  const std::size_t n = 3 * odyssey::kEltwiseGrain + 5;
  const std::vector<float> param0 = odyssey::test::normal_floats(n, 1.0f, 9);
  odyssey::AdamOptions adam;
  adam.weight_decay = 0.01;
  odyssey::SgdOptions sgd;
  sgd.lr = 0.05;
  sgd.momentum = 0.9;
  sgd.dampening = 0.3;
  sgd.weight_decay = 1e-2;
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    std::vector<float> first;
    for (int threads : {1, 2, 5}) {
      odyssey::set_num_threads(threads);
      std::vector<float> result = run_adam(adam, true, param0, 1);
      for (const std::vector<float>& more :
           {run_sgd(sgd, param0, 1), run_rmsprop(rmsprop_cases().back(), param0, 1),
            run_adagrad(adagrad_cases().back(), param0, 1)}) {
        result.insert(result.end(), more.begin(), more.end());
      }
      if (first.empty()) first = result;
      CHECK_NOTE(same_bits(first, result),
                 std::string("threads ") + odyssey::isa_name(isa) + " " + std::to_string(threads));
    }
  }
}

// One step from a state already under way, so every input and output buffer is read.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  using odyssey::test::normal_floats;
  const std::size_t n = 2 * odyssey::kEltwiseGrain + 37;
  const std::vector<float> param = normal_floats(n, 1.0f, 31), grad = normal_floats(n, 1.0f, 32);
  const std::vector<float> m = normal_floats(n, 0.1f, 33);
  std::vector<float> v = normal_floats(n, 0.1f, 34), v_max = normal_floats(n, 0.1f, 35);
  for (auto& e : v) e *= e;
  for (auto& e : v_max) e *= e;
  odyssey::SgdOptions sgd;
  sgd.lr = 0.05;
  sgd.momentum = 0.9;
  sgd.weight_decay = 1e-2;
  sgd.nesterov = true;
  sgd.first_step = false;
  check_address_invariance("sgd_step", {param, grad, m},
                           [&](float* const* b) { odyssey::sgd_step(b[0], b[1], b[2], sgd, n); });
  odyssey::AdamOptions adam;
  adam.step = 3;
  adam.weight_decay = 1e-2;
  for (bool decoupled : {false, true}) {
    adam.decoupled_weight_decay = decoupled;
    check_address_invariance(
        decoupled ? "adamw_step" : "adam_step", {param, grad, m, v, v_max},
        [&](float* const* b) { odyssey::adam_step(b[0], b[1], b[2], b[3], b[4], adam, n); });
  }
  // A mean square above the mean's square, so that the centered variance stays positive.
  std::vector<float> square_avg = v;
  for (std::size_t i = 0; i < n; ++i) square_avg[i] += m[i] * m[i] + 0.01f;
  for (const odyssey::RmspropOptions& o : rmsprop_cases()) {
    if (o.alpha != 0.99) continue;
    check_address_invariance("rmsprop_step", {param, grad, square_avg, m, v_max},
                             [&](float* const* b) {
                               odyssey::rmsprop_step(b[0], b[1], b[2], o.centered ? b[3] : nullptr,
                                                     o.momentum != 0.0 ? b[4] : nullptr, o, n);
                             });
  }
  for (odyssey::AdagradOptions o : adagrad_cases()) {
    o.step = 4;
    check_address_invariance("adagrad_step", {param, grad, v}, [&](float* const* b) {
      odyssey::adagrad_step(b[0], b[1], b[2], o, n);
    });
  }
}

// Bytes alike, NaN sign and payload included.
bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Buffer `which` of a step: normal values, and at every other element one of NaN of either sign
// (one with a payload), infinities and signed zeros, the buffers' patterns staggered so that two
// NaNs of different signs meet in the same operation (param + NaN grad, NaN momentum + NaN
// quotient, ...) as well as NaN with infinity and infinity with infinity of the other sign.
std::vector<float> nan_mix(std::size_t n, std::size_t which) {
  std::uint32_t payload_nan_bits = 0x7fc01234u, negative_nan_bits = 0xffc00000u;
  float payload_nan, negative_nan;
  std::memcpy(&payload_nan, &payload_nan_bits, sizeof(float));
  std::memcpy(&negative_nan, &negative_nan_bits, sizeof(float));
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            negative_nan,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            -0.0f,
                            payload_nan,
                            0.0f};
  constexpr std::size_t kCount = sizeof(specials) / sizeof(specials[0]);
  std::vector<float> values =
      odyssey::test::normal_floats(n, 1.0f, 900 + static_cast<std::uint32_t>(which));
  for (std::size_t i = 0; i < n; i += 2) values[i] = specials[(i / 2 + 3 * which) % kCount];
  return values;
}

// Runs step(buffers) on every ISA with the nan_mix buffers at float offsets 0..16, all alike and
// staggered: every byte of every buffer afterwards must be those of the scalar reference at offset
// 0, NaNs included (DESIGN §2: a result is a function of the values, never of an address). 37
// elements give an alignment head, a full vector and a tail at every offset, for every width.
template <class Step>
void check_nan_bytes(const std::string& name, std::size_t buffers, const Step& step) {
  const std::size_t n = 37;
  std::vector<std::vector<float>> initial;
  for (std::size_t j = 0; j < buffers; ++j) initial.push_back(nan_mix(n, j));
  const odyssey::Isa previous = odyssey::selected_isa();
  bool intact = true;
  odyssey::select_isa(odyssey::Isa::kScalar);
  const auto want = odyssey::test::detail::run_placed(initial, std::vector<std::size_t>(buffers, 0),
                                                      step, intact);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
      for (bool staggered : {false, true}) {
        std::vector<std::size_t> offsets(buffers, offset);
        for (std::size_t j = 0; j < buffers && staggered; ++j) {
          offsets[j] = (offset + 7 * (j + 1)) % (odyssey::test::kMaxOffset + 1);
        }
        const auto got = odyssey::test::detail::run_placed(initial, offsets, step, intact);
        std::string where = name + " " + odyssey::isa_name(isa) + " at offsets";
        for (std::size_t o : offsets) where += " " + std::to_string(o);
        CHECK_NOTE(intact, where + ": wrote past a buffer");
        for (std::size_t j = 0; j < buffers; ++j) {
          CHECK_NOTE(same_bytes(want.buffers[j], got.buffers[j]),
                     where + ": buffer " + std::to_string(j) +
                         " has other bytes than the scalar reference at offset 0");
        }
      }
    }
  }
  odyssey::select_isa(previous);
}

// Every option combination of every optimizer on NaN, infinities and -0.0 in every buffer.
void check_nan_bytes_everywhere() {
  const std::size_t n = 37;
  for (odyssey::SgdOptions o : sgd_cases()) {
    for (bool first_step : {false, true}) {
      o.first_step = first_step;
      check_nan_bytes("sgd_step", 3, [&](float* const* b) {
        odyssey::sgd_step(b[0], b[1], o.momentum != 0.0 ? b[2] : nullptr, o, n);
      });
    }
  }
  for (odyssey::AdamOptions o : adam_cases()) {
    o.step = 3;
    for (bool amsgrad : {false, true}) {
      check_nan_bytes(o.decoupled_weight_decay ? "adamw_step" : "adam_step", 5,
                      [&](float* const* b) {
                        odyssey::adam_step(b[0], b[1], b[2], b[3], amsgrad ? b[4] : nullptr, o, n);
                      });
    }
  }
  for (const odyssey::RmspropOptions& o : rmsprop_cases()) {
    check_nan_bytes("rmsprop_step", 5, [&](float* const* b) {
      odyssey::rmsprop_step(b[0], b[1], b[2], o.centered ? b[3] : nullptr,
                            o.momentum != 0.0 ? b[4] : nullptr, o, n);
    });
  }
  for (odyssey::AdagradOptions o : adagrad_cases()) {
    o.step = 4;
    check_nan_bytes("adagrad_step", 3,
                    [&](float* const* b) { odyssey::adagrad_step(b[0], b[1], b[2], o, n); });
  }
}
}  // namespace

// The multi-tensor steps: tensors of odd sizes, each at its own float offset, tensor 1 joining a
// step late (its first step, Adam's step count 1, comes then). At offsets 0 and 1 the last tensor
// runs over two parallel chunks of SGD and nine of Adam (an SGD chunk holds 131,072 elements, an
// Adam one 16,384: at every offset the test would take minutes under the sanitizers).
std::vector<std::size_t> many_sizes(std::size_t offset) {
  return {1, 7, 33, 1031, offset <= 1 ? odyssey::kSgdManyGrain + 5 : 4099};
}

std::vector<float> run_sgd_many(odyssey::SgdOptions o, std::size_t offset, bool many) {
  const std::vector<std::size_t> sizes = many_sizes(offset);
  std::vector<Buffer> params, buffers;
  for (std::size_t j = 0; j < sizes.size(); ++j) {
    const std::size_t at = (offset + 5 * j) % 17;
    params.emplace_back(odyssey::test::normal_floats(sizes[j], 1.0f, 30 + j), at);
    buffers.emplace_back(std::vector<float>(sizes[j]), at);
  }
  for (int step = 0; step < kSteps; ++step) {
    std::vector<Buffer> grads;
    std::vector<odyssey::SgdTensor> tensors;
    for (std::size_t j = 0; j < sizes.size(); ++j) {
      if (j == 1 && step == 0) continue;
      grads.emplace_back(gradient(sizes[j], step, 40 + j, false), (offset + 3 * j) % 17);
      tensors.push_back({params[j].data(), grads.back().data(),
                         o.momentum != 0.0 ? buffers[j].data() : nullptr, sizes[j],
                         step == (j == 1 ? 1 : 0)});
    }
    if (many) {
      odyssey::sgd_step_many(tensors.data(), tensors.size(), o);
    } else {
      for (const odyssey::SgdTensor& t : tensors) {
        o.first_step = t.first_step;
        odyssey::sgd_step(t.param, t.grad, t.momentum_buffer, o, t.n);
      }
    }
  }
  std::vector<float> result;
  for (const std::vector<Buffer>* arrays : {&params, &buffers}) {
    for (const Buffer& b : *arrays) {
      CHECK_NOTE(b.guard_intact(), "sgd_step_many wrote past the end");
      const std::vector<float> values = b.values();
      result.insert(result.end(), values.begin(), values.end());
    }
  }
  return result;
}

std::vector<float> run_adam_many(odyssey::AdamOptions o, bool amsgrad, std::size_t offset,
                                 bool many) {
  const std::vector<std::size_t> sizes = many_sizes(offset);
  std::vector<Buffer> params, ms, vs, v_maxs;
  for (std::size_t j = 0; j < sizes.size(); ++j) {
    const std::size_t at = (offset + 5 * j) % 17;
    const std::vector<float> zeros(sizes[j]);
    params.emplace_back(odyssey::test::normal_floats(sizes[j], 1.0f, 50 + j), at);
    ms.emplace_back(zeros, at);
    vs.emplace_back(zeros, (at + 1) % 17);
    v_maxs.emplace_back(zeros, (at + 2) % 17);
  }
  for (int step = 1; step <= kSteps; ++step) {
    std::vector<Buffer> grads;
    std::vector<odyssey::AdamTensor> tensors;
    for (std::size_t j = 0; j < sizes.size(); ++j) {
      if (j == 1 && step == 1) continue;
      grads.emplace_back(gradient(sizes[j], step, 60 + j, false), (offset + 3 * j) % 17);
      tensors.push_back({params[j].data(), grads.back().data(), ms[j].data(), vs[j].data(),
                         amsgrad ? v_maxs[j].data() : nullptr, sizes[j], j == 1 ? step - 1 : step});
    }
    if (many) {
      odyssey::adam_step_many(tensors.data(), tensors.size(), o);
    } else {
      for (const odyssey::AdamTensor& t : tensors) {
        o.step = t.step;
        odyssey::adam_step(t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, o, t.n);
      }
    }
  }
  std::vector<float> result;
  for (const std::vector<Buffer>* arrays : {&params, &ms, &vs, &v_maxs}) {
    for (const Buffer& b : *arrays) {
      CHECK_NOTE(b.guard_intact(), "adam_step_many wrote past the end");
      const std::vector<float> values = b.values();
      result.insert(result.end(), values.begin(), values.end());
    }
  }
  return result;
}

// sgd_step_many and adam_step_many (disjoint tensors: one joint parallel index space) on every
// variant, 1 and 2 threads and every offset: the bits of the scalar reference's single-array steps
// taken one tensor after another.
void check_many() {
  const std::vector<odyssey::SgdOptions> sgd = sgd_cases();
  const std::vector<odyssey::AdamOptions> adam = adam_cases();
  for (std::size_t offset = 0; offset <= 16; ++offset) {
    std::vector<std::vector<float>> want;
    odyssey::select_isa(odyssey::Isa::kScalar);
    odyssey::set_num_threads(1);
    for (const odyssey::SgdOptions& o : sgd) want.push_back(run_sgd_many(o, offset, false));
    for (const odyssey::AdamOptions& o : adam) {
      want.push_back(run_adam_many(o, offset % 2 == 0, offset, false));
    }
    for (odyssey::Isa isa : odyssey::available_isas()) {
      odyssey::select_isa(isa);
      for (int threads : {1, 2}) {
        odyssey::set_num_threads(threads);
        std::size_t k = 0;
        const std::string where = std::string(odyssey::isa_name(isa)) + " threads " +
                                  std::to_string(threads) + " offset " + std::to_string(offset);
        for (const odyssey::SgdOptions& o : sgd) {
          CHECK_NOTE(same_bits(want[k++], run_sgd_many(o, offset, true)), "sgd_step_many " + where);
        }
        for (const odyssey::AdamOptions& o : adam) {
          CHECK_NOTE(same_bits(want[k++], run_adam_many(o, offset % 2 == 0, offset, true)),
                     "adam_step_many " + where);
        }
      }
    }
  }
}

// Tensors that share memory (here one gradient array read by two parameters, as a caller may
// pass) are stepped one after another: the bits of separate single-array calls.
void check_many_shared() {
  const std::size_t n = odyssey::kEltwiseGrain + 5;
  odyssey::SgdOptions o;
  o.lr = 0.05;
  o.momentum = 0.9;
  o.weight_decay = 1e-2;
  const Buffer grad(odyssey::test::normal_floats(n, 1.0f, 70), 3);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (int threads : {1, 2}) {
      odyssey::set_num_threads(threads);
      std::vector<std::vector<float>> results;
      for (bool many : {false, true}) {
        Buffer p0(odyssey::test::normal_floats(n, 1.0f, 71), 0), b0(std::vector<float>(n), 5);
        Buffer p1(odyssey::test::normal_floats(7, 1.0f, 72), 1), b1(std::vector<float>(7), 2);
        const std::vector<odyssey::SgdTensor> tensors = {
            {p0.data(), grad.data(), b0.data(), n, true},
            {p1.data(), grad.data(), b1.data(), 7, true}};
        if (many) {
          odyssey::sgd_step_many(tensors.data(), tensors.size(), o);
        } else {
          for (const odyssey::SgdTensor& t : tensors) {
            odyssey::sgd_step(t.param, t.grad, t.momentum_buffer, o, t.n);
          }
        }
        std::vector<float> result = p0.values();
        for (const Buffer* b : {&b0, &p1, &b1}) {
          const std::vector<float> values = b->values();
          result.insert(result.end(), values.begin(), values.end());
        }
        results.push_back(result);
      }
      CHECK_NOTE(same_bits(results[0], results[1]),
                 std::string("sgd_step_many shared grad ") + odyssey::isa_name(isa));
    }
  }
}

int main() {
  check_sgd_adam_variants();
  check_sgd_adam_special_values();
  check_sgd_adam_reference();
  check_rmsprop_adagrad_variants();
  check_rmsprop_adagrad_reference();
  check_threads();
  check_address_invariance();
  check_nan_bytes_everywhere();
  check_many();
  check_many_shared();
  return odyssey::test::finish();
}
