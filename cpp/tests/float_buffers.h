// Test inputs for the pointwise kernel families: random values with special ones mixed in, buffers
// at chosen misalignments, and comparisons with a relative plus absolute tolerance.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace odyssey::test {

inline const std::size_t kOddSizes[] = {1,  3,  7,  8,  15,  16,   17,  31,
                                        32, 33, 63, 65, 127, 1000, 4099};
inline const std::size_t kOffsets[] = {0, 1, 3, 5};  // floats past a 64-byte boundary

inline std::vector<float> normal_floats(std::size_t n, float stddev, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(n);
  // Clipped at 4 standard deviations, so that tolerances can scale with the largest value.
  for (auto& v : values) v = std::fmax(-4.0f * stddev, std::fmin(4.0f * stddev, normal(rng)));
  return values;
}

// Normal values with zeros, NaN, infinities, saturating and tiny values every 7th element.
inline std::vector<float> special_floats(std::size_t n, std::uint32_t seed) {
  std::vector<float> values = normal_floats(n, 4.0f, seed);
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::quiet_NaN(),
                            100.0f,
                            -100.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            1e-6f,
                            -3e-4f,
                            0.49f,
                            -0.51f,
                            88.5f,
                            -90.0f};
  constexpr std::size_t kCount = sizeof(specials) / sizeof(specials[0]);
  for (std::size_t i = 0; i < n; i += 7) values[i] = specials[(i / 7) % kCount];
  return values;
}

// A copy of `values` whose data() sits `offset` floats past a 64-byte boundary, followed by one
// guard float that no kernel may write.
class Buffer {
 public:
  static constexpr float kGuard = 42.0f;
  Buffer(const std::vector<float>& values, std::size_t offset) : storage_(values.size() + 32) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    start_ = ((64 - address % 64) % 64) / sizeof(float) + offset;
    size_ = values.size();
    if (size_ != 0) std::memcpy(data(), values.data(), size_ * sizeof(float));
    data()[size_] = kGuard;
  }
  float* data() { return storage_.data() + start_; }
  const float* data() const { return storage_.data() + start_; }
  std::vector<float> values() const { return {data(), data() + size_}; }
  bool guard_intact() const { return data()[size_] == kGuard; }

 private:
  std::vector<float> storage_;
  std::size_t start_ = 0;
  std::size_t size_ = 0;
};

// Bit for bit, except that any two NaNs match: which operand's NaN (and sign) an instruction passes
// on differs between ISAs and with the compiler's operand order.
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool both_nan = std::isnan(a[i]) && std::isnan(b[i]);
    if (!both_nan && std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

// |got - want| <= rel scale + abs elementwise, scale = |want| unless given (the size of the terms
// a result was computed from, where it cancels); NaN only where want is NaN, infinities equal.
// Returns "" or a description of the first mismatch.
inline std::string mismatch(const std::vector<float>& want, const std::vector<float>& got,
                            double rel, double abs, const std::vector<double>& scale = {}) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = got[i];
    const double size = scale.empty() ? std::fabs(w) : scale[i];
    bool ok = std::isnan(w) ? std::isnan(g) : !std::isnan(g);
    if (ok && std::isfinite(w)) ok = std::fabs(g - w) <= rel * size + abs;
    if (ok && std::isinf(w)) ok = w == g;
    if (!ok) {
      return "at " + std::to_string(i) + ": want " + std::to_string(w) + " got " +
             std::to_string(g);
    }
  }
  return "";
}

}  // namespace odyssey::test
