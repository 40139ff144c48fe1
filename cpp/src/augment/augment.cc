// The warps over a batch: the selected ISA's kernels, parameters drawn per sample inside each
// parallel chunk, chunks of a fixed number of samples.
#include "odyssey/augment.h"

#include <cmath>
#include <vector>

#include "draws.h"
#include "odyssey/dispatch.h"
#include "sample_loop.h"

namespace odyssey {
namespace {

using augment_loop::for_each_chunk;
using augment_loop::for_each_sample;

// Normalised Gaussian taps over [-radius, radius], radius = ceil(3 sigma).
std::vector<float> gaussian_taps(double sigma) {
  const auto radius = static_cast<std::size_t>(std::ceil(3.0 * sigma));
  std::vector<double> weights(2 * radius + 1);
  double total = 0.0;
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const double d = (static_cast<double>(k) - static_cast<double>(radius)) / sigma;
    total += weights[k] = std::exp(-0.5 * d * d);
  }
  std::vector<float> taps(weights.size());
  for (std::size_t k = 0; k < taps.size(); ++k) taps[k] = static_cast<float>(weights[k] / total);
  return taps;
}

// Draws a sample's dx and dy fields, blurs each and scales them by alpha.
class ElasticField {
 public:
  ElasticField(std::size_t height, std::size_t width, double alpha, const std::vector<float>& taps)
      : height_(height),
        width_(width),
        alpha_(static_cast<float>(alpha)),
        taps_(taps),
        scratch_(blur_scratch_floats(height, width, radius())) {}

  void draw(const SampleDraws& draws, std::int64_t index, float* displacements) {
    const std::size_t plane = height_ * width_;
    const AugmentKernels& kernels = augment_kernels();
    const std::uint32_t key[2] = {static_cast<std::uint32_t>(draws.seed),
                                  static_cast<std::uint32_t>(draws.seed >> 32)};
    kernels.uniform_field(key, draws.stream, static_cast<std::uint32_t>(index), draws.epoch,
                          displacements, 2 * plane);
    const auto blur = kernels.gaussian_blur;
    for (float* field : {displacements, displacements + plane}) {
      blur(field, height_, width_, taps_.data(), radius(), scratch_.data());
      for (std::size_t i = 0; i < plane; ++i) field[i] *= alpha_;
    }
  }

 private:
  std::size_t radius() const { return taps_.size() / 2; }

  std::size_t height_, width_;
  float alpha_;
  const std::vector<float>& taps_;
  std::vector<float> scratch_;
};

}  // namespace

const AugmentKernels* augment_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(AugmentKernels, kAugment);
  return kTables.get(isa);
}

void random_affine_matrices(const SampleDraws& draws, std::size_t count, const AffineRanges& ranges,
                            std::size_t height, std::size_t width, float* inverse) {
  for (std::size_t i = 0; i < count; ++i) {
    augment_draws::affine_inverse(draws, draws.indices[i], ranges, height, width, inverse + 6 * i);
  }
}

void affine_warp(const float* src, float* dst, const BatchShape& shape, const float* inverse,
                 float fill) {
  const auto kernel = augment_kernels().affine_warp;
  const std::size_t n = shape.image_floats();
  for_each_sample(shape.count, shape.image_floats(), [&](std::size_t i) {
    kernel(src + i * n, dst + i * n, shape.channels, shape.height, shape.width, inverse + 6 * i,
           fill);
  });
}

void random_affine(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                   const AffineRanges& ranges, float fill) {
  const auto kernel = augment_kernels().affine_warp;
  const std::size_t n = shape.image_floats();
  for_each_sample(shape.count, shape.image_floats(), [&](std::size_t i) {
    float inverse[6];
    augment_draws::affine_inverse(draws, draws.indices[i], ranges, shape.height, shape.width,
                                  inverse);
    kernel(src + i * n, dst + i * n, shape.channels, shape.height, shape.width, inverse, fill);
  });
}

void elastic_displacements(const SampleDraws& draws, std::size_t count, std::size_t height,
                           std::size_t width, double alpha, double sigma, float* displacements) {
  const std::vector<float> taps = gaussian_taps(sigma);
  const BatchShape fields{count, 2, height, width};
  for_each_chunk(count, fields.image_floats(), [&](std::size_t begin, std::size_t end) {
    ElasticField field(height, width, alpha, taps);
    for (std::size_t i = begin; i < end; ++i) {
      field.draw(draws, draws.indices[i], displacements + i * fields.image_floats());
    }
  });
}

void displacement_warp(const float* src, float* dst, const BatchShape& shape,
                       const float* displacements, float fill) {
  const auto kernel = augment_kernels().displacement_warp;
  const std::size_t n = shape.image_floats(), plane = shape.height * shape.width;
  for_each_sample(shape.count, shape.image_floats(), [&](std::size_t i) {
    const float* dx = displacements + 2 * plane * i;
    kernel(src + i * n, dst + i * n, shape.channels, shape.height, shape.width, dx, dx + plane,
           fill);
  });
}

void elastic_distortion(const float* src, float* dst, const BatchShape& shape,
                        const SampleDraws& draws, double alpha, double sigma, float fill) {
  const auto kernel = augment_kernels().displacement_warp;
  const std::vector<float> taps = gaussian_taps(sigma);
  const std::size_t n = shape.image_floats(), plane = shape.height * shape.width;
  for_each_chunk(shape.count, shape.image_floats(), [&](std::size_t begin, std::size_t end) {
    ElasticField field(shape.height, shape.width, alpha, taps);
    std::vector<float> displacements(2 * plane);
    for (std::size_t i = begin; i < end; ++i) {
      field.draw(draws, draws.indices[i], displacements.data());
      kernel(src + i * n, dst + i * n, shape.channels, shape.height, shape.width,
             displacements.data(), displacements.data() + plane, fill);
    }
  });
}

}  // namespace odyssey
