// Per-sample random parameters, each a pure function of (seed, epoch, sample index, stream, what is
// drawn): Philox4x32-10 with key (seed low, seed high) and counter (block, stream, index, epoch).
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/augment.h"

namespace odyssey::augment_draws {

// RandomAffine's inverse map for one sample, in affine_warp's convention.
void affine_inverse(const SampleDraws& draws, std::int64_t index, const AffineRanges& ranges,
                    std::size_t height, std::size_t width, float inverse[6]);

// Offsets in [0, max_top] x [0, max_left] for RandomCrop.
struct CropOffset {
  std::size_t top, left;
};
CropOffset crop_offset(const SampleDraws& draws, std::int64_t index, std::size_t max_top,
                       std::size_t max_left);

// RandomErasing's box; height 0 when the sample is left as it is.
struct EraseBox {
  std::size_t top, left, height, width;
};
EraseBox erase_box(const SampleDraws& draws, std::int64_t index, std::size_t height,
                   std::size_t width, double p, const double scale[2], const double ratio[2]);

}  // namespace odyssey::augment_draws
