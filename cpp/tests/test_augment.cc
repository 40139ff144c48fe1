// Philox4x32-10 against the published known answers; every SIMD warp and blur against the scalar
// reference over odd sizes, misaligned pointers and out-of-range coordinates; the batched
// transforms against thread counts and batch splits.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "odyssey/augment.h"
#include "odyssey/parallel.h"
#include "odyssey/philox.h"

namespace {

using odyssey::AugmentKernels;
using odyssey::isa_name;

const std::size_t kSizes[] = {1, 3, 7, 15, 16, 17, 31, 33};
// Floats past a 64-byte boundary, to misalign every array: each of 0..16 (every alignment of
// every vector width, and one step beyond) comes up as the loops over sizes go round.
constexpr std::size_t kOffsets = 17;

void check_philox_known_answers() {
  // Random123 1.14, tests/kat_vectors (github.com/DEShawResearch/random123, commit 9545ff64):
  // "philox4x32 10" lines, counter (4 words), key (2 words), expected output (4 words).
  struct Vector {
    odyssey::Philox4x32Block counter;
    odyssey::Philox4x32Key key;
    odyssey::Philox4x32Block expected;
  };
  const Vector vectors[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Vector& v : vectors) {
    const odyssey::Philox4x32Block got = odyssey::philox4x32_10(v.counter, v.key);
    for (int i = 0; i < 4; ++i) CHECK(got.word[i] == v.expected.word[i]);
  }
}

std::vector<float> random_floats(std::size_t n, float low, float high, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> values(n);
  for (auto& v : values) v = uniform(rng);
  return values;
}

// `values` copied to 64-byte alignment plus `offset` floats, with guard floats after the end.
struct Buffer {
  Buffer(const std::vector<float>& values, std::size_t offset)
      : storage(values.size() + offset + 32, 1234.0f) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    start = ((64 - address % 64) % 64) / sizeof(float) + offset;
    size = values.size();
    if (size != 0) std::memcpy(data(), values.data(), size * sizeof(float));
  }
  float* data() { return storage.data() + start; }
  bool guard_intact() const { return storage[start + size] == 1234.0f; }
  std::vector<float> storage;
  std::size_t start = 0, size = 0;
};

bool close(const float* want, const float* got, std::size_t n, float tolerance,
           std::string* where) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::fabs(want[i] - got[i]) <= tolerance * (1.0f + std::fabs(want[i])))) {
      *where += " at " + std::to_string(i) + ": want " + std::to_string(want[i]) + " got " +
                std::to_string(got[i]);
      return false;
    }
  }
  return true;
}

// Maps that shrink, stretch, rotate and push most of the image out of range, plus a
// non-finite one: all lanes, in range or not, must agree with the reference.
std::vector<std::vector<float>> test_maps(std::size_t height, std::size_t width) {
  const float h = static_cast<float>(height), w = static_cast<float>(width);
  return {{1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f},
          {0.93f, -0.31f, 0.4f * w, 0.29f, 1.07f, -0.2f * h},
          {1.7f, 0.2f, -0.6f * w, -0.4f, 0.6f, 0.3f * h},
          {-1.0f, 0.0f, w - 0.5f, 0.0f, -1.0f, h - 0.25f},
          {3.0f, 0.0f, -w, 0.0f, 3.0f, -h},
          {1e30f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f},
          {std::numeric_limits<float>::quiet_NaN(), 0.0f, 0.0f, 0.0f, 1.0f, 0.0f}};
}

void check_warps(odyssey::Isa isa) {
  const AugmentKernels& ref = odyssey::scalar::kAugment;
  const AugmentKernels& simd = *odyssey::augment_kernels(isa);
  std::size_t round = 0;
  for (std::size_t height : kSizes) {
    for (std::size_t width : kSizes) {
      for (std::size_t channels : {std::size_t{1}, std::size_t{3}}) {
        const std::size_t n = channels * height * width, plane = height * width;
        const std::size_t offset = round++ % kOffsets;
        const std::string shape = std::string(isa_name(isa)) + " " + std::to_string(channels) +
                                  "x" + std::to_string(height) + "x" + std::to_string(width);
        Buffer src(random_floats(n, -1.0f, 1.0f, 1), offset);
        std::vector<float> want(n);
        const float fill = 0.375f;
        for (const auto& map : test_maps(height, width)) {
          Buffer got(std::vector<float>(n, 0.0f), offset);
          ref.affine_warp(src.data(), want.data(), channels, height, width, map.data(), fill);
          simd.affine_warp(src.data(), got.data(), channels, height, width, map.data(), fill);
          std::string where = "affine " + shape + " map[0]=" + std::to_string(map[0]);
          CHECK_NOTE(close(want.data(), got.data(), n, 1e-5f, &where), where);
          CHECK_NOTE(got.guard_intact(), "affine wrote past the end " + shape);
        }
        std::vector<float> displacements = random_floats(2 * plane, -3.0f, 3.0f, 2);
        displacements[0] = std::numeric_limits<float>::infinity();
        displacements[plane / 2] = -1e20f;
        Buffer field(displacements, offset);
        Buffer got(std::vector<float>(n, 0.0f), offset);
        ref.displacement_warp(src.data(), want.data(), channels, height, width,
                              displacements.data(), displacements.data() + plane, fill);
        simd.displacement_warp(src.data(), got.data(), channels, height, width, field.data(),
                               field.data() + plane, fill);
        std::string where = "displacement " + shape;
        CHECK_NOTE(close(want.data(), got.data(), n, 1e-5f, &where), where);
        CHECK_NOTE(got.guard_intact(), "displacement wrote past the end " + shape);
      }
    }
  }
}

// A large multi-channel image: offsets far beyond one cache line, many full vectors per row.
void check_large_image(odyssey::Isa isa) {
  const AugmentKernels& ref = odyssey::scalar::kAugment;
  const AugmentKernels& simd = *odyssey::augment_kernels(isa);
  const std::size_t channels = 3, height = 257, width = 301, n = channels * height * width;
  const std::size_t plane = height * width;
  Buffer src(random_floats(n, -1.0f, 1.0f, 5), 1);
  std::vector<float> want(n);
  Buffer got(std::vector<float>(n, 0.0f), 3);
  const float map[6] = {0.96f, 0.28f, -30.0f, -0.28f, 0.96f, 60.0f};
  ref.affine_warp(src.data(), want.data(), channels, height, width, map, -1.0f);
  simd.affine_warp(src.data(), got.data(), channels, height, width, map, -1.0f);
  // FMA rounds a coordinate near 300 differently by up to an ulp (3e-5), which moves a bilinear
  // weight by as much; pixels differ by up to 2 between neighbours.
  const float tolerance = 1e-4f;
  std::string where = std::string("large affine ") + isa_name(isa);
  CHECK_NOTE(close(want.data(), got.data(), n, tolerance, &where), where);
  const std::vector<float> displacements = random_floats(2 * plane, -9.0f, 9.0f, 6);
  ref.displacement_warp(src.data(), want.data(), channels, height, width, displacements.data(),
                        displacements.data() + plane, -1.0f);
  simd.displacement_warp(src.data(), got.data(), channels, height, width, displacements.data(),
                         displacements.data() + plane, -1.0f);
  where = std::string("large displacement ") + isa_name(isa);
  CHECK_NOTE(close(want.data(), got.data(), n, tolerance, &where), where);
  CHECK_NOTE(got.guard_intact(), "large warp wrote past the end");
}

std::vector<float> normalised_taps(std::size_t radius) {
  std::vector<float> taps(2 * radius + 1);
  float total = 0.0f;
  for (std::size_t k = 0; k < taps.size(); ++k) {
    const float d = static_cast<float>(k) - static_cast<float>(radius);
    total += taps[k] = std::exp(-d * d / (2.0f + static_cast<float>(radius)));
  }
  for (auto& t : taps) t /= total;
  return taps;
}

void check_blur(odyssey::Isa isa) {
  const AugmentKernels& ref = odyssey::scalar::kAugment;
  const AugmentKernels& simd = *odyssey::augment_kernels(isa);
  std::size_t round = 0;
  for (std::size_t height : kSizes) {
    for (std::size_t width : kSizes) {
      for (std::size_t radius : {0, 1, 3, 12, 40}) {
        const std::size_t offset = round++ % kOffsets;
        const std::vector<float> taps = normalised_taps(radius);
        const std::vector<float> field = random_floats(height * width, -1.0f, 1.0f, 3);
        const std::size_t scratch_floats = odyssey::blur_scratch_floats(height, width, radius);
        std::vector<float> want = field, scratch(scratch_floats, 99.0f);
        Buffer got(field, offset);
        Buffer simd_scratch(std::vector<float>(scratch_floats, 99.0f), offset);
        ref.gaussian_blur(want.data(), height, width, taps.data(), radius, scratch.data());
        simd.gaussian_blur(got.data(), height, width, taps.data(), radius, simd_scratch.data());
        std::string where = std::string("blur ") + isa_name(isa) + " " + std::to_string(height) +
                            "x" + std::to_string(width) + " radius " + std::to_string(radius);
        CHECK_NOTE(close(want.data(), got.data(), field.size(), 1e-5f, &where), where);
        CHECK_NOTE(got.guard_intact() && simd_scratch.guard_intact(), "blur overrun " + where);
      }
    }
  }
}

// Bitwise: integer Philox words and exact conversions leave no room for rounding differences.
void check_uniform_field(odyssey::Isa isa) {
  const AugmentKernels& ref = odyssey::scalar::kAugment;
  const AugmentKernels& simd = *odyssey::augment_kernels(isa);
  const std::uint32_t keys[][2] = {{0, 0}, {0xA4093822u, 0x299F31D0u}, {0xFFFFFFFFu, 7}};
  for (const auto& key : keys) {
    for (std::size_t count : {1, 3, 4, 5, 15, 17, 31, 33, 63, 64, 65, 100, 1568, 4099}) {
      std::vector<float> want(count);
      ref.uniform_field(key, 3, 0xFFFFFFFFu, 11, want.data(), count);
      for (std::size_t offset = 0; offset < kOffsets; ++offset) {
        Buffer got(std::vector<float>(count, 0.0f), offset);
        simd.uniform_field(key, 3, 0xFFFFFFFFu, 11, got.data(), count);
        const std::string where = std::string("uniform_field ") + isa_name(isa) + " count " +
                                  std::to_string(count) + " offset " + std::to_string(offset);
        CHECK_NOTE(std::memcmp(want.data(), got.data(), count * sizeof(float)) == 0, where);
        CHECK_NOTE(got.guard_intact(), "uniform_field wrote past the end " + where);
      }
    }
  }
}

// Bitwise: every byte value gives the float32 division on every ISA, at odd lengths and with the
// source and destination misaligned. (37 is odd, so k 37 mod 256 takes every value by k = 255.)
void check_bytes_to_unit_floats(odyssey::Isa isa) {
  const AugmentKernels& simd = *odyssey::augment_kernels(isa);
  for (std::size_t count : {1, 3, 7, 8, 15, 16, 17, 31, 33, 256, 784, 4099}) {
    for (std::size_t offset = 0; offset < kOffsets; ++offset) {
      std::vector<std::uint8_t> bytes(offset + count);
      for (std::size_t k = 0; k < count; ++k)
        bytes[offset + k] = static_cast<std::uint8_t>((k * 37 + offset) % 256);
      std::vector<float> want(count);
      Buffer got(std::vector<float>(count, 0.0f), offset);
      odyssey::scalar::kAugment.bytes_to_unit_floats(bytes.data() + offset, want.data(), count);
      simd.bytes_to_unit_floats(bytes.data() + offset, got.data(), count);
      const std::string where = std::string("bytes_to_unit_floats ") + isa_name(isa) + " count " +
                                std::to_string(count) + " offset " + std::to_string(offset);
      for (std::size_t k = 0; k < count; ++k) {
        CHECK_NOTE(want[k] == static_cast<float>(bytes[offset + k]) / 255.0f, where);
      }
      CHECK_NOTE(std::memcmp(want.data(), got.data(), count * sizeof(float)) == 0, where);
      CHECK_NOTE(got.guard_intact(), "bytes_to_unit_floats wrote past the end " + where);
    }
  }
}

// The batch gather: image indices[i] converted into slot i, the same bits for every ISA and thread
// count.
void check_gather_unit_floats() {
  const std::size_t samples = 50, image_bytes = 28 * 28;
  std::vector<std::uint8_t> images(samples * image_bytes);
  for (std::size_t k = 0; k < images.size(); ++k)
    images[k] = static_cast<std::uint8_t>((k * 131 + 7) % 256);
  const std::vector<std::int64_t> indices = {49, 0, 7,  7,  31, 2,  48, 13, 1,  33, 20, 5, 40,
                                             3,  9, 17, 44, 25, 11, 38, 6,  29, 15, 46, 8};
  std::vector<float> want(indices.size() * image_bytes);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    for (std::size_t k = 0; k < image_bytes; ++k) {
      const std::uint8_t v = images[static_cast<std::size_t>(indices[i]) * image_bytes + k];
      want[i * image_bytes + k] = static_cast<float>(v) / 255.0f;
    }
  }
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (int threads : {1, 2, 3}) {
      odyssey::set_num_threads(threads);
      std::vector<float> got(want.size());
      odyssey::gather_unit_floats(images.data(), image_bytes, indices.data(), indices.size(),
                                  got.data());
      CHECK_NOTE(got == want, std::string("gather_unit_floats ") + isa_name(isa) + " threads " +
                                  std::to_string(threads));
    }
  }
}

void check_uniform_field_reference() {
  // Value 4 b + w is word w of block b, mapped to [-1, 1).
  const std::uint32_t key[2] = {5, 6};
  std::vector<float> field(10);
  odyssey::scalar::kAugment.uniform_field(key, 1, 2, 3, field.data(), field.size());
  for (std::uint32_t b = 0; b < 3; ++b) {
    const auto block = odyssey::philox4x32_10({{b, 1, 2, 3}}, {{5, 6}});
    for (std::uint32_t w = 0; w < 4 && 4 * b + w < field.size(); ++w) {
      CHECK(field[4 * b + w] == 2.0f * odyssey::philox_unit_float(block.word[w]) - 1.0f);
      CHECK(field[4 * b + w] >= -1.0f && field[4 * b + w] < 1.0f);
    }
  }
}

// A batch transform gives the same bits for any thread count and for a sample wherever it sits in
// the batch.
template <typename Transform>
void check_deterministic(const char* name, const Transform& transform) {
  const odyssey::BatchShape shape{67, 1, 28, 28};
  const std::size_t n = shape.image_floats();
  const std::vector<float> images = random_floats(shape.count * n, 0.0f, 1.0f, 4);
  std::vector<std::int64_t> indices(shape.count);
  for (std::size_t i = 0; i < shape.count; ++i)
    indices[i] = static_cast<std::int64_t>(1000 + 7 * i);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    std::vector<float> one_thread(images.size()), many(images.size());
    odyssey::set_num_threads(1);
    transform(images.data(), one_thread.data(), shape, indices.data());
    for (int threads : {2, 3}) {
      odyssey::set_num_threads(threads);
      transform(images.data(), many.data(), shape, indices.data());
      CHECK_NOTE(one_thread == many,
                 std::string(name) + " " + isa_name(isa) + " threads " + std::to_string(threads));
    }
    // Sample 5 alone, in a batch of one.
    std::vector<float> alone(n);
    const odyssey::BatchShape single{1, shape.channels, shape.height, shape.width};
    transform(images.data() + 5 * n, alone.data(), single, indices.data() + 5);
    CHECK_NOTE(std::memcmp(alone.data(), one_thread.data() + 5 * n, n * sizeof(float)) == 0,
               std::string(name) + " batch split " + isa_name(isa));
  }
}

void check_batch_transforms() {
  odyssey::AffineRanges ranges{{-15, 15},    0.1,       0.1,     {0.8, 1.2},
                               {0.85, 1.15}, {-10, 10}, {-5, 5}, 0.5};
  check_deterministic("random_affine",
                      [&](const float* src, float* dst, const odyssey::BatchShape& shape,
                          const std::int64_t* indices) {
                        odyssey::random_affine(src, dst, shape, {42, 3, 7, indices}, ranges, 0.0f);
                      });
  check_deterministic(
      "elastic_distortion", [&](const float* src, float* dst, const odyssey::BatchShape& shape,
                                const std::int64_t* indices) {
        odyssey::elastic_distortion(src, dst, shape, {42, 3, 8, indices}, 34.0, 4.0, 0.0f);
      });
}

// Every batched transform on a small batch of 28 x 28 images; index, label and byte arrays stay
// put.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  const odyssey::BatchShape shape{6, 2, 28, 28};
  const std::size_t count = shape.count, floats = count * shape.image_floats();
  const std::size_t plane = shape.height * shape.width;
  const std::vector<float> src = odyssey::test::normal_floats(floats, 1.0f, 51);
  const std::vector<float> dst(floats);
  const std::vector<std::int64_t> indices = {3, 1, 4, 1, 5, 9};
  const odyssey::SampleDraws draws{42, 3, 7, indices.data()};
  const odyssey::AffineRanges ranges{{-15, 15},    0.1,       0.1,     {0.8, 1.2},
                                     {0.85, 1.15}, {-10, 10}, {-5, 5}, 0.5};
  std::vector<float> inverse(count * 6), displacements(count * 2 * plane);
  odyssey::random_affine_matrices(draws, count, ranges, shape.height, shape.width, inverse.data());
  odyssey::elastic_displacements(draws, count, shape.height, shape.width, 34.0, 4.0,
                                 displacements.data());
  std::vector<std::uint8_t> images(10 * plane);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<std::uint8_t>(i * 37);

  check_address_invariance(
      "gather_unit_floats", {std::vector<float>(count * plane)}, [&](float* const* b) {
        odyssey::gather_unit_floats(images.data(), plane, indices.data(), count, b[0]);
      });
  check_address_invariance("random_affine_matrices", {inverse}, [&](float* const* b) {
    odyssey::random_affine_matrices(draws, count, ranges, shape.height, shape.width, b[0]);
  });
  check_address_invariance("affine_warp", {src, dst, inverse}, [&](float* const* b) {
    odyssey::affine_warp(b[0], b[1], shape, b[2], 0.5f);
  });
  check_address_invariance("random_affine", {src, dst}, [&](float* const* b) {
    odyssey::random_affine(b[0], b[1], shape, draws, ranges, 0.5f);
  });
  check_address_invariance("elastic_displacements", {displacements}, [&](float* const* b) {
    odyssey::elastic_displacements(draws, count, shape.height, shape.width, 34.0, 4.0, b[0]);
  });
  check_address_invariance("displacement_warp", {src, dst, displacements}, [&](float* const* b) {
    odyssey::displacement_warp(b[0], b[1], shape, b[2], 0.5f);
  });
  check_address_invariance("elastic_distortion", {src, dst}, [&](float* const* b) {
    odyssey::elastic_distortion(b[0], b[1], shape, draws, 34.0, 4.0, 0.5f);
  });
  check_address_invariance(
      "normalize", {src, dst, {0.1f, -0.2f}, {0.3f, 2.0f}},
      [&](float* const* b) { odyssey::normalize(b[0], b[1], shape, b[2], b[3]); });
  const std::vector<std::int64_t> top = {-3, 0, 2, 5, -1, 1}, left = {1, -2, 0, 3, 4, -5};
  check_address_invariance(
      "shifted_window", {src, std::vector<float>(count * 2 * 30 * 26)}, [&](float* const* b) {
        odyssey::shifted_window(b[0], b[1], shape, 30, 26, top.data(), left.data(), 0.5f);
      });
  check_address_invariance(
      "random_crop", {src, std::vector<float>(count * 2 * 24 * 24)}, [&](float* const* b) {
        odyssey::random_crop(b[0], b[1], shape, draws, 24, 24, 2, 1, 3, 4, 0.5f);
      });
  const double scale[2] = {0.02, 0.33}, ratio[2] = {0.3, 3.3};
  check_address_invariance("random_erasing", {src, dst, {0.25f, -0.75f}}, [&](float* const* b) {
    odyssey::random_erasing(b[0], b[1], shape, draws, 0.9, scale, ratio, b[2]);
  });
}

}  // namespace

int main() {
  check_philox_known_answers();
  check_uniform_field_reference();
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    std::printf("checking %s against scalar\n", isa_name(isa));
    check_warps(isa);
    check_blur(isa);
    check_large_image(isa);
    check_uniform_field(isa);
    check_bytes_to_unit_floats(isa);
  }
  check_batch_transforms();
  check_gather_unit_floats();
  check_address_invariance();
  return odyssey::test::finish();
}
