// Every compiled and runnable SIMD variant against the scalar reference: odd sizes, misaligned
// pointers, special values; the threaded sum against thread counts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::EltwiseKernels;
using odyssey::isa_name;

const std::size_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 1000, 4099};
// Every float offset from a 64-byte aligned start up to 16: each alignment of each vector width.
constexpr std::size_t kMaxOffset = 16;

// Values with a mix of signs and magnitudes, plus the special values ReLU must get right.
std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  std::vector<float> values(n);
  for (auto& v : values) v = normal(rng);
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::denorm_min(),
                            -1e-40f};
  for (std::size_t i = 0; i < n; i += 11) values[i] = specials[(i / 11) % 7];
  return values;
}

bool same_bits(const float* a, const float* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

// A buffer whose data() is 64-byte aligned plus `offset` floats, so loads cross every alignment.
struct Buffer {
  Buffer(const std::vector<float>& values, std::size_t offset)
      : storage(values.size() + offset + 16), offset_floats(offset) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    align = ((64 - address % 64) % 64) / sizeof(float);
    if (!values.empty()) std::memcpy(data(), values.data(), values.size() * sizeof(float));
  }
  float* data() { return storage.data() + align + offset_floats; }
  std::vector<float> storage;
  std::size_t offset_floats;
  std::size_t align = 0;
};

void check_variant(odyssey::Isa isa) {
  const EltwiseKernels& ref = odyssey::scalar::kEltwise;
  const EltwiseKernels& simd = *odyssey::eltwise_kernels(isa);
  for (std::size_t n : kSizes) {
    for (std::size_t offset = 0; offset <= kMaxOffset; ++offset) {
      const std::string where = std::string(isa_name(isa)) + " n=" + std::to_string(n) +
                                " offset=" + std::to_string(offset);
      Buffer a(random_floats(n, 1), offset), b(random_floats(n, 2), offset);
      std::vector<float> expected(n), got_values(n + 1, 42.0f);
      Buffer got(got_values, offset);  // one guard float past the end
      const float* guard = got.data() + n;

      ref.add(a.data(), b.data(), expected.data(), n);
      simd.add(a.data(), b.data(), got.data(), n);
      CHECK_NOTE(same_bits(expected.data(), got.data(), n), "add " + where);

      ref.mul(a.data(), b.data(), expected.data(), n);
      simd.mul(a.data(), b.data(), got.data(), n);
      CHECK_NOTE(same_bits(expected.data(), got.data(), n), "mul " + where);

      ref.relu(a.data(), expected.data(), n);
      simd.relu(a.data(), got.data(), n);
      CHECK_NOTE(same_bits(expected.data(), got.data(), n), "relu " + where);
      CHECK_NOTE(*guard == 42.0f, "wrote past the end " + where);

      // In place: out is the input itself.
      simd.relu(a.data(), a.data(), n);
      CHECK_NOTE(same_bits(expected.data(), a.data(), n), "relu in place " + where);

      // Sum of finite values only; accumulation order differs, so compare with a tolerance.
      std::vector<float> finite = random_floats(n, 3);
      double abs_total = 0.0;
      for (auto& v : finite) {
        if (!std::isfinite(v)) v = 1.5f;
        abs_total += std::fabs(v);
      }
      Buffer x(finite, offset);
      const double want = ref.sum(x.data(), n), have = simd.sum(x.data(), n);
      CHECK_NOTE(std::fabs(want - have) <= 1e-6 * abs_total + 1e-30,
                 "sum " + where + " want " + std::to_string(want) + " got " + std::to_string(have));
    }
  }
}

void check_large_sum_accuracy(odyssey::Isa isa) {
  // Large n in one call: float accumulators must still be close to the double reference.
  const std::size_t n = 1000003;
  std::vector<float> x(n);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  double abs_total = 0.0;
  for (auto& v : x) abs_total += (v = uniform(rng));
  const double want = odyssey::scalar::kEltwise.sum(x.data(), n);
  const double have = odyssey::eltwise_kernels(isa)->sum(x.data(), n);
  CHECK_NOTE(std::fabs(want - have) <= 1e-5 * abs_total, std::string("large sum ") + isa_name(isa));
}

void check_threaded_sum_is_deterministic() {
  const std::size_t n = 1000003;  // about 31 chunks, the last one short
  std::vector<float> x = random_floats(n, 9);
  for (auto& v : x) {
    if (!std::isfinite(v)) v = 0.25f;
  }
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    odyssey::set_num_threads(1);
    const float one_thread = odyssey::sum(x.data(), n);
    for (int threads : {2, 3, 4, 7}) {
      odyssey::set_num_threads(threads);
      const float many = odyssey::sum(x.data(), n);
      CHECK_NOTE(std::memcmp(&one_thread, &many, sizeof(float)) == 0,
                 std::string(isa_name(isa)) + " threads=" + std::to_string(threads));
    }
  }
}

void check_threaded_elementwise_matches_reference() {
  const std::size_t n = 3 * odyssey::kEltwiseGrain + 17;
  const std::vector<float> a = random_floats(n, 4), b = random_floats(n, 5);
  std::vector<float> expected(n), got(n);
  odyssey::scalar::kEltwise.add(a.data(), b.data(), expected.data(), n);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (int threads : {1, 2, 5}) {
      odyssey::set_num_threads(threads);
      std::fill(got.begin(), got.end(), 0.0f);
      odyssey::add(a.data(), b.data(), got.data(), n);
      CHECK_NOTE(
          same_bits(expected.data(), got.data(), n),
          std::string("threaded add ") + isa_name(isa) + " threads=" + std::to_string(threads));
    }
  }
}

// The case: the sum of 100,003 floats, over several parallel chunks, at 17 offsets.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  for (std::size_t n : {std::size_t{5}, std::size_t{1000}, std::size_t{100003}}) {
    std::vector<float> x = random_floats(n, 11), y = random_floats(n, 12);
    const std::vector<float> out(n, 0.0f);
    const std::string size = " n=" + std::to_string(n);
    check_address_invariance("add" + size, {x, y, out},
                             [n](float* const* b) { odyssey::add(b[0], b[1], b[2], n); });
    check_address_invariance("mul" + size, {x, y, out},
                             [n](float* const* b) { odyssey::mul(b[0], b[1], b[2], n); });
    check_address_invariance("relu" + size, {x, out},
                             [n](float* const* b) { odyssey::relu(b[0], b[1], n); });
    // With NaN and infinities, then finite, then negative zeros alone (whose sum is +0.0).
    check_address_invariance("sum of specials" + size, {x},
                             [n](float* const* b) { return odyssey::sum(b[0], n); });
    for (auto& v : x) {
      if (!std::isfinite(v)) v = 0.5f;
    }
    check_address_invariance("sum" + size, {x},
                             [n](float* const* b) { return odyssey::sum(b[0], n); });
    check_address_invariance("sum of -0.0" + size, {std::vector<float>(n, -0.0f)},
                             [n](float* const* b) { return odyssey::sum(b[0], n); });
  }
}

}  // namespace

int main() {
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    std::printf("checking %s against scalar\n", isa_name(isa));
    check_variant(isa);
    check_large_sum_accuracy(isa);
  }
  check_threaded_sum_is_deterministic();
  check_threaded_elementwise_matches_reference();
  check_address_invariance();
  return odyssey::test::finish();
}
