// Batched data augmentation on float32 NCHW images. Every random parameter of sample i is drawn
// from Philox4x32-10 keyed by (seed, epoch, indices[i], stream), inside the kernel, so a sample's
// distortion does not depend on the batch it is in, the thread count or the order of the work.
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/dispatch.h"

namespace odyssey {

// The heavy per-sample kernels, one table per ISA. Images are channels x height x width, float32,
// only float-aligned; a sampled point outside the image reads `fill`.
struct AugmentKernels {
  // dst(c, y, x) = bilinear(src(c), inverse[0] x + inverse[1] y + inverse[2],
  //                                 inverse[3] x + inverse[4] y + inverse[5]).
  void (*affine_warp)(const float* src, float* dst, std::size_t channels, std::size_t height,
                      std::size_t width, const float* inverse, float fill);
  // dst(c, y, x) = bilinear(src(c), x + dx(y, x), y + dy(y, x)); dx and dy are height x width.
  void (*displacement_warp)(const float* src, float* dst, std::size_t channels, std::size_t height,
                            std::size_t width, const float* dx, const float* dy, float fill);
  // field (height x width) convolved in place with taps[0 .. 2 radius] along x, then along y,
  // zeros outside. scratch holds blur_scratch_floats(height, width, radius) floats.
  void (*gaussian_blur)(float* field, std::size_t height, std::size_t width, const float* taps,
                        std::size_t radius, float* scratch);
  // out[4 b + w] = 2 u - 1 for i = 4 b + w < count, where u is the top 24 bits of word w of
  // Philox4x32-10 block b (counter (b, stream, index, epoch) under key) over 2^24: a field
  // uniform in [-1, 1), the same bits on every ISA.
  void (*uniform_field)(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                        std::uint32_t epoch, float* out, std::size_t count);
  // dst[k] = src[k] / 255 for k < count, bitwise the float32 division (torchvision's ToTensor).
  void (*bytes_to_unit_floats)(const std::uint8_t* src, float* dst, std::size_t count);
};

namespace scalar {
extern const AugmentKernels kAugment;
}
namespace avx2 {
extern const AugmentKernels kAugment;
}
namespace avx512 {
extern const AugmentKernels kAugment;
}
namespace neon {
extern const AugmentKernels kAugment;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const AugmentKernels* augment_kernels(Isa isa);
inline const AugmentKernels& augment_kernels() { return *augment_kernels(selected_isa()); }

// Floats of gaussian_blur's scratch: the field with zero margins along x, then along y. (Not used
// by the ISA files, which must not share inline functions with baseline code.)
inline std::size_t blur_scratch_floats(std::size_t height, std::size_t width, std::size_t radius) {
  return height * (width + 2 * radius) + (height + 2 * radius) * width;
}

// Shape of an NCHW batch.
struct BatchShape {
  std::size_t count, channels, height, width;
  std::size_t image_floats() const { return channels * height * width; }
};

// What a batch's draws are keyed by. Sample i of the batch uses Philox key (seed low, seed high)
// and counter (block, stream, indices[i], epoch): indices[i] and epoch must be below 2^32.
struct SampleDraws {
  std::uint64_t seed;
  std::uint32_t epoch;
  std::uint32_t stream;
  const std::int64_t* indices;
};

// Uniform ranges [low, high] of RandomAffine's parameters; a transform that is off has low = high
// at its identity (0 degrees, 0 translation and shear, scale and squeeze 1), and hflip 0.
struct AffineRanges {
  double degrees[2];
  double translate_x, translate_y;  // fractions of the width and height: uniform in [-t, t]
  double scale[2];
  double squeeze[2];  // x scaled by s, y by 1/s
  double shear_x[2];  // degrees
  double shear_y[2];  // degrees
  double hflip;       // probability in [0, 1] that x is mirrored about the centre first
};

// dst (count x image_bytes floats) = image indices[i] of `images` (each image_bytes uint8) as
// float32 in [0, 1]: the DataLoader's batch gathered and converted in one pass. The caller checks
// that every index is in range.
void gather_unit_floats(const std::uint8_t* images, std::size_t image_bytes,
                        const std::int64_t* indices, std::size_t count, float* dst);

// Per-sample inverse maps (6 floats each, the affine_warp convention) of RandomAffine: with
// probability hflip a mirror of x, then rotation by the drawn angle (counter-clockwise as
// displayed), scale, squeeze and shear, all about the image centre ((width - 1) / 2,
// (height - 1) / 2), then translation.
void random_affine_matrices(const SampleDraws& draws, std::size_t count, const AffineRanges& ranges,
                            std::size_t height, std::size_t width, float* inverse);
void affine_warp(const float* src, float* dst, const BatchShape& shape, const float* inverse,
                 float fill);
// random_affine_matrices then affine_warp, a chunk of samples at a time.
void random_affine(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                   const AffineRanges& ranges, float fill);

// Simard et al. (2003): per sample, fields dx and dy uniform in [-1, 1], each smoothed by a
// Gaussian of std sigma truncated at radius ceil(3 sigma), times alpha. displacements holds
// count x 2 x height x width floats (dx then dy).
void elastic_displacements(const SampleDraws& draws, std::size_t count, std::size_t height,
                           std::size_t width, double alpha, double sigma, float* displacements);
void displacement_warp(const float* src, float* dst, const BatchShape& shape,
                       const float* displacements, float fill);
void elastic_distortion(const float* src, float* dst, const BatchShape& shape,
                        const SampleDraws& draws, double alpha, double sigma, float fill);

// dst(n, c, y, x) = (src(n, c, y, x) - mean[c]) / std[c].
void normalize(const float* src, float* dst, const BatchShape& shape, const float* mean,
               const float* std);

// dst (count x channels x out_height x out_width) = src shifted: dst(n, c, y, x) =
// src(n, c, y + top[n], x + left[n]), fill outside src. Pad is a window with negative offsets.
void shifted_window(const float* src, float* dst, const BatchShape& shape, std::size_t out_height,
                    std::size_t out_width, const std::int64_t* top, const std::int64_t* left,
                    float fill);
// A window of out_height x out_width at a uniform offset within src padded by pad_top/left above
// and to the left and pad_bottom/right below and to the right: the image must fit.
void random_crop(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                 std::size_t out_height, std::size_t out_width, std::size_t pad_top,
                 std::size_t pad_left, std::size_t pad_bottom, std::size_t pad_right, float fill);

// torchvision's RandomErasing: with probability p, up to 10 tries at a box of area fraction in
// [scale[0], scale[1]] and aspect ratio log-uniform in [ratio[0], ratio[1]]; the first box that
// fits is set to value[c] in every channel c.
void random_erasing(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                    double p, const double scale[2], const double ratio[2], const float* value);

}  // namespace odyssey
