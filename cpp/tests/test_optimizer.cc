// The fused SGD and Adam updates on every compiled and runnable SIMD variant against the scalar
// reference over several steps with every option, odd sizes and misaligned arrays; thread-count
// determinism. The operations are the reference's, but GCC may contract beta2 * v + (1 - beta2) g g
// into a fused multiply-add where FMA is enabled, so results agree to |simd - ref| <= 1e-6 |ref| +
// 1e-9 rather than bit for bit.
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
      const std::vector<float> sgd_result = run_sgd(sgd, param0, 1);
      result.insert(result.end(), sgd_result.begin(), sgd_result.end());
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
}

}  // namespace

int main() {
  check_variants();
  check_threads();
  check_address_invariance();
  return odyssey::test::finish();
}
