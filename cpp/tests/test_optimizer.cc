// The fused SGD, Adam, RMSprop and Adagrad updates on every compiled and runnable SIMD variant
// against the scalar reference over several steps with every option, odd sizes and misaligned
// arrays; thread-count determinism and address invariance. SGD and Adam are held to
// |simd - ref| <= 1e-6 |ref| + 1e-9; RMSprop and Adagrad, whose variants perform exactly the
// reference's operations (the kernels are built with -ffp-contract=off), to the same bits, at
// every float offset 0..16.
#include <cmath>
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
using odyssey::test::mismatch;
using odyssey::test::same_bits;

constexpr double kRel = 1e-6;
constexpr double kAbs = 1e-9;
constexpr int kSteps = 4;

std::vector<odyssey::SgdOptions> sgd_cases() {
  std::vector<odyssey::SgdOptions> cases;
  for (double momentum : {0.0, 0.9}) {
    for (double weight_decay : {0.0, 1e-2}) {
      for (double dampening : {0.0, 0.3}) {
        for (bool nesterov : {false, true}) {
          if (nesterov && (momentum == 0.0 || dampening != 0.0)) continue;
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

std::vector<float> run_sgd(odyssey::SgdOptions o, const std::vector<float>& param0,
                           std::size_t offset) {
  const std::size_t n = param0.size();
  Buffer param(param0, offset), buffer(std::vector<float>(n), offset);
  for (int step = 0; step < kSteps; ++step) {
    Buffer grad(odyssey::test::normal_floats(n, 1.0f, 100 + step), offset);
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
                            std::size_t offset) {
  const std::size_t n = param0.size();
  const std::vector<float> zeros(n);
  Buffer param(param0, offset), m(zeros, offset), v(zeros, offset), v_max(zeros, offset);
  for (int step = 1; step <= kSteps; ++step) {
    Buffer grad(odyssey::test::normal_floats(n, 1.0f, 200 + step), offset);
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

void check_variants() {
  for (std::size_t n : odyssey::test::kOddSizes) {
    const std::vector<float> param0 = odyssey::test::normal_floats(n, 1.0f, 7);
    for (std::size_t offset : odyssey::test::kOffsets) {
      const std::string size = " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      int case_index = 0;
      for (const odyssey::SgdOptions& o : sgd_cases()) {
        odyssey::select_isa(odyssey::Isa::kScalar);
        const std::vector<float> want = run_sgd(o, param0, offset);
        for (odyssey::Isa isa : odyssey::test::simd_isas()) {
          odyssey::select_isa(isa);
          const std::string bad = mismatch(want, run_sgd(o, param0, offset), kRel, kAbs);
          CHECK_NOTE(bad.empty(), std::string("sgd case ") + std::to_string(case_index) + " " +
                                      odyssey::isa_name(isa) + size + " " + bad);
        }
        ++case_index;
      }
      for (double weight_decay : {0.0, 0.1}) {
        for (bool decoupled : {false, true}) {
          for (bool amsgrad : {false, true}) {
            for (double beta1 : {0.9, 0.3}) {
              odyssey::AdamOptions o;
              o.lr = 1e-2;
              o.beta1 = beta1;
              o.weight_decay = weight_decay;
              o.decoupled_weight_decay = decoupled;
              odyssey::select_isa(odyssey::Isa::kScalar);
              const std::vector<float> want = run_adam(o, amsgrad, param0, offset);
              for (odyssey::Isa isa : odyssey::test::simd_isas()) {
                odyssey::select_isa(isa);
                const std::string bad =
                    mismatch(want, run_adam(o, amsgrad, param0, offset), kRel, kAbs);
                CHECK_NOTE(bad.empty(), std::string("adam ") + odyssey::isa_name(isa) + size +
                                            " wd=" + std::to_string(weight_decay) +
                                            " decoupled=" + std::to_string(decoupled) +
                                            " amsgrad=" + std::to_string(amsgrad) +
                                            " beta1=" + std::to_string(beta1) + " " + bad);
              }
            }
          }
        }
      }
    }
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

void check_threads() {
  const std::size_t n = 3 * odyssey::kEltwiseGrain + 5;
  const std::vector<float> param0 = odyssey::test::normal_floats(n, 1.0f, 9);
  odyssey::AdamOptions adam;
  adam.weight_decay = 0.01;
  odyssey::SgdOptions sgd = sgd_cases().back();
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

}  // namespace

int main() {
  check_variants();
  check_rmsprop_adagrad_variants();
  check_rmsprop_adagrad_reference();
  check_threads();
  check_address_invariance();
  return odyssey::test::finish();
}
