// Every compiled and runnable SIMD variant of the activations against the scalar reference: odd
// sizes, misaligned pointers, special values, in place; threaded results against thread counts.
// The ReLU family and most backward formulas use the same operations on every ISA and must match
// bit for bit. GCC contracts g * (1 - y * y) into a fused multiply-add where FMA is enabled (C++
// defaults to -ffp-contract=fast), so tanh's gradient may differ by an ulp of the product, up to
// 6e-8 |g| near saturation; sigmoid, tanh and lecun tanh use polynomial exp/tanh and must be within
// 2 ulp or so: |simd - ref| <= 3e-7 |ref| + 1e-37. Hardtanh and its gradient match bit for bit;
// silu and its gradient go through the polynomial sigmoid, and the gradient's 1 + x (1 - s)
// cancels near x = -1.28, so it is held to 1e-6 |g| absolutely.
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "float_buffers.h"
#include "odyssey/activation.h"
#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::ActivationKernels;
using odyssey::test::Buffer;
using odyssey::test::mismatch;
using odyssey::test::same_bits;

constexpr double kRel = 3e-7;
constexpr double kAbs = 1e-37;
constexpr float kSlope = 0.01f;
constexpr float kLow = -1.5f;
constexpr float kHigh = 2.0f;

using Unary = std::function<void(const float*, float*, std::size_t)>;
using Binary = std::function<void(const float*, const float*, float*, std::size_t)>;

void check_unary(const char* name, Unary ref, Unary simd, bool exact, const std::string& where,
                 const std::vector<float>& x, std::size_t offset) {
  const std::size_t n = x.size();
  Buffer in(x, offset), out(std::vector<float>(n, 0.0f), offset);
  std::vector<float> want(n);
  ref(x.data(), want.data(), n);
  simd(in.data(), out.data(), n);
  const std::string note = std::string(name) + " " + where;
  if (exact) {
    CHECK_NOTE(same_bits(want, out.values()), note);
  } else {
    const std::string bad = mismatch(want, out.values(), kRel, kAbs);
    CHECK_NOTE(bad.empty(), note + " " + bad);
  }
  CHECK_NOTE(out.guard_intact(), note + " wrote past the end");
  simd(in.data(), in.data(), n);  // in place
  CHECK_NOTE(same_bits(in.values(), out.values()), note + " in place");
}

void check_binary(const char* name, Binary ref, Binary simd, bool exact, const std::string& where,
                  const std::vector<float>& g, const std::vector<float>& x, std::size_t offset,
                  double abs_tol = 4.0 * 6e-8) {  // |g| < 4 here
  const std::size_t n = x.size();
  Buffer gb(g, offset), xb(x, offset), out(std::vector<float>(n, 0.0f), offset);
  std::vector<float> want(n);
  ref(g.data(), x.data(), want.data(), n);
  simd(gb.data(), xb.data(), out.data(), n);
  const std::string note = std::string(name) + " " + where;
  if (exact) {
    CHECK_NOTE(same_bits(want, out.values()), note);
  } else {
    const std::string bad = mismatch(want, out.values(), kRel, abs_tol);
    CHECK_NOTE(bad.empty(), note + " " + bad);
  }
  CHECK_NOTE(out.guard_intact(), note + " wrote past the end");
}

void check_variant(odyssey::Isa isa) {
  const ActivationKernels& ref = odyssey::scalar::kActivation;
  const ActivationKernels& simd = *odyssey::activation_kernels(isa);
  for (std::size_t n : odyssey::test::kOddSizes) {
    for (std::size_t offset : odyssey::test::kOffsets) {
      const std::string where = std::string(odyssey::isa_name(isa)) + " n=" + std::to_string(n) +
                                " offset=" + std::to_string(offset);
      const std::vector<float> x = odyssey::test::special_floats(n, 1);
      const std::vector<float> g = odyssey::test::normal_floats(n, 1.0f, 2);
      check_unary("sigmoid", ref.sigmoid, simd.sigmoid, false, where, x, offset);
      check_unary("tanh", ref.tanh, simd.tanh, false, where, x, offset);
      check_unary("lecun_tanh", ref.lecun_tanh, simd.lecun_tanh, false, where, x, offset);
      const auto leaky_ref = [&](const float* in, float* out, std::size_t m) {
        ref.leaky_relu(in, kSlope, out, m);
      };
      const auto leaky_simd = [&](const float* in, float* out, std::size_t m) {
        simd.leaky_relu(in, kSlope, out, m);
      };
      check_unary("leaky_relu", leaky_ref, leaky_simd, true, where, x, offset);

      check_binary("relu_backward", ref.relu_backward, simd.relu_backward, true, where, g, x,
                   offset);
      const auto leaky_back_ref = [&](const float* a, const float* b, float* out, std::size_t m) {
        ref.leaky_relu_backward(a, b, kSlope, out, m);
      };
      const auto leaky_back_simd = [&](const float* a, const float* b, float* out, std::size_t m) {
        simd.leaky_relu_backward(a, b, kSlope, out, m);
      };
      check_binary("leaky_relu_backward", leaky_back_ref, leaky_back_simd, true, where, g, x,
                   offset);
      for (auto [lo, hi] : {std::pair{kLow, kHigh}, std::pair{0.0f, 6.0f}}) {
        const auto hardtanh_ref = [&](const float* in, float* out, std::size_t m) {
          ref.hardtanh(in, lo, hi, out, m);
        };
        const auto hardtanh_simd = [&](const float* in, float* out, std::size_t m) {
          simd.hardtanh(in, lo, hi, out, m);
        };
        check_unary("hardtanh", hardtanh_ref, hardtanh_simd, true, where, x, offset);
        const auto back_ref = [&](const float* a, const float* b, float* out, std::size_t m) {
          ref.hardtanh_backward(a, b, lo, hi, out, m);
        };
        const auto back_simd = [&](const float* a, const float* b, float* out, std::size_t m) {
          simd.hardtanh_backward(a, b, lo, hi, out, m);
        };
        check_binary("hardtanh_backward", back_ref, back_simd, true, where, g, x, offset);
      }
      check_unary("silu", ref.silu, simd.silu, false, where, x, offset);
      check_binary("silu_backward", ref.silu_backward, simd.silu_backward, false, where, g, x,
                   offset, 4.0 * 1e-6);
      // Backward from outputs in the range the forward produces.
      std::vector<float> y(n);
      ref.tanh(x.data(), y.data(), n);
      check_binary("tanh_backward", ref.tanh_backward, simd.tanh_backward, false, where, g, y,
                   offset);
      ref.sigmoid(x.data(), y.data(), n);
      check_binary("sigmoid_backward", ref.sigmoid_backward, simd.sigmoid_backward, true, where, g,
                   y, offset);
      ref.lecun_tanh(x.data(), y.data(), n);
      check_binary("lecun_tanh_backward", ref.lecun_tanh_backward, simd.lecun_tanh_backward, true,
                   where, g, y, offset);
    }
  }
}

// The polynomial tanh near its switch from the series to the exp form, and over a dense range.
void check_dense_accuracy(odyssey::Isa isa) {
  std::vector<float> x;
  for (float v = -20.0f; v <= 20.0f; v += 0.00037f) x.push_back(v);
  for (float v = 0.499f; v <= 0.501f; v += 1e-6f) x.push_back(v);
  const ActivationKernels& ref = odyssey::scalar::kActivation;
  const ActivationKernels& simd = *odyssey::activation_kernels(isa);
  std::vector<float> want(x.size()), got(x.size());
  for (auto [name, r, s] :
       {std::tuple{"tanh", ref.tanh, simd.tanh}, std::tuple{"sigmoid", ref.sigmoid, simd.sigmoid},
        std::tuple{"lecun_tanh", ref.lecun_tanh, simd.lecun_tanh},
        std::tuple{"silu", ref.silu, simd.silu}}) {
    r(x.data(), want.data(), x.size());
    s(x.data(), got.data(), x.size());
    const std::string bad = mismatch(want, got, kRel, kAbs);
    CHECK_NOTE(bad.empty(),
               std::string("dense ") + name + " " + odyssey::isa_name(isa) + " " + bad);
  }
}

void check_saturation(odyssey::Isa isa) {
  const ActivationKernels& k = *odyssey::activation_kernels(isa);
  const std::vector<float> x = {100.0f, -100.0f, 1e30f, -1e30f};
  std::vector<float> t(4), s(4);
  k.tanh(x.data(), t.data(), 4);
  k.sigmoid(x.data(), s.data(), 4);
  CHECK_NOTE(t[0] == 1.0f && t[1] == -1.0f && t[2] == 1.0f && t[3] == -1.0f,
             std::string("tanh saturates exactly ") + odyssey::isa_name(isa));
  CHECK_NOTE(s[0] == 1.0f && s[1] >= 0.0f && s[1] < 1e-38f && s[2] == 1.0f && s[3] == 0.0f,
             std::string("sigmoid saturates ") + odyssey::isa_name(isa));
}

void check_threads() {
  const std::size_t n = 3 * odyssey::kEltwiseGrain + 17;
  const std::vector<float> x = odyssey::test::special_floats(n, 5);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    std::vector<float> first;
    for (int threads : {1, 2, 5}) {
      odyssey::set_num_threads(threads);
      std::vector<float> y(n);
      odyssey::tanh(x.data(), y.data(), n);
      odyssey::sigmoid(y.data(), y.data(), n);
      if (first.empty()) first = y;
      CHECK_NOTE(same_bits(first, y),
                 std::string("threads ") + odyssey::isa_name(isa) + " " + std::to_string(threads));
    }
  }
}

void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  const std::size_t n = 3 * odyssey::kEltwiseGrain + 17;
  const std::vector<float> x = odyssey::test::special_floats(n, 6);
  const std::vector<float> g = odyssey::test::normal_floats(n, 1.0f, 7);
  const std::vector<float> out(n, 0.0f);
  using UnaryKernel = void (*)(const float*, float*, std::size_t);
  using BinaryKernel = void (*)(const float*, const float*, float*, std::size_t);
  for (auto [name, kernel] : {std::pair<const char*, UnaryKernel>{"sigmoid", odyssey::sigmoid},
                              {"tanh", odyssey::tanh},
                              {"lecun_tanh", odyssey::lecun_tanh},
                              {"silu", odyssey::silu}}) {
    check_address_invariance(name, {x, out},
                             [&, k = kernel](float* const* b) { k(b[0], b[1], n); });
  }
  for (auto [name, kernel] :
       {std::pair<const char*, BinaryKernel>{"relu_backward", odyssey::relu_backward},
        {"sigmoid_backward", odyssey::sigmoid_backward},
        {"tanh_backward", odyssey::tanh_backward},
        {"lecun_tanh_backward", odyssey::lecun_tanh_backward},
        {"silu_backward", odyssey::silu_backward}}) {
    check_address_invariance(name, {g, x, out},
                             [&, k = kernel](float* const* b) { k(b[0], b[1], b[2], n); });
  }
  check_address_invariance("leaky_relu", {x, out},
                           [&](float* const* b) { odyssey::leaky_relu(b[0], kSlope, b[1], n); });
  check_address_invariance("leaky_relu_backward", {g, x, out}, [&](float* const* b) {
    odyssey::leaky_relu_backward(b[0], b[1], kSlope, b[2], n);
  });
  check_address_invariance("hardtanh", {x, out},
                           [&](float* const* b) { odyssey::hardtanh(b[0], 0.0f, 6.0f, b[1], n); });
  check_address_invariance("hardtanh_backward", {g, x, out}, [&](float* const* b) {
    odyssey::hardtanh_backward(b[0], b[1], kLow, kHigh, b[2], n);
  });
}

}  // namespace

int main() {
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    std::printf("checking %s against scalar\n", odyssey::isa_name(isa));
    check_variant(isa);
    check_dense_accuracy(isa);
    check_saturation(isa);
  }
  check_saturation(odyssey::Isa::kScalar);
  check_threads();
  check_address_invariance();
  return odyssey::test::finish();
}
