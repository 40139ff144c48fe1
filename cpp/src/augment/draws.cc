// Per-sample parameter draws. Each parameter has its own fixed (block, lane) of the sample's
// Philox stream, so enabling one distortion never shifts the draws of another.
#include "draws.h"

#include <cmath>

#include "odyssey/philox.h"

namespace odyssey::augment_draws {
namespace {

constexpr double kPi = 3.14159265358979323846;

Philox4x32Block sample_block(const SampleDraws& draws, std::int64_t index, std::uint32_t block) {
  const Philox4x32Key key{
      {static_cast<std::uint32_t>(draws.seed), static_cast<std::uint32_t>(draws.seed >> 32)}};
  const Philox4x32Block counter{
      {block, draws.stream, static_cast<std::uint32_t>(index), draws.epoch}};
  return philox4x32_10(counter, key);
}

double uniform(std::uint32_t bits, const double range[2]) {
  return range[0] + (range[1] - range[0]) * static_cast<double>(philox_unit_float(bits));
}

// An integer uniform in [0, max]: the high half of bits * (max + 1), whose bias is below
// (max + 1) / 2^32, nothing for image offsets.
std::size_t uniform_index(std::uint32_t bits, std::size_t max) {
  return static_cast<std::size_t>((std::uint64_t{bits} * (std::uint64_t{max} + 1)) >> 32);
}

double radians(double degrees) { return degrees * (kPi / 180.0); }

}  // namespace

void affine_inverse(const SampleDraws& draws, std::int64_t index, const AffineRanges& ranges,
                    std::size_t height, std::size_t width, float inverse[6]) {
  const Philox4x32Block first = sample_block(draws, index, 0);
  const Philox4x32Block second = sample_block(draws, index, 1);
  const double angle = radians(uniform(first.word[0], ranges.degrees));
  const double scale = uniform(first.word[1], ranges.scale);
  const double squeeze = uniform(first.word[2], ranges.squeeze);
  const double shear_x = std::tan(radians(uniform(first.word[3], ranges.shear_x)));
  const double shear_y = std::tan(radians(uniform(second.word[0], ranges.shear_y)));
  const double tx_range[2] = {-ranges.translate_x * static_cast<double>(width),
                              ranges.translate_x * static_cast<double>(width)};
  const double ty_range[2] = {-ranges.translate_y * static_cast<double>(height),
                              ranges.translate_y * static_cast<double>(height)};
  const double tx = uniform(second.word[1], tx_range);
  const double ty = uniform(second.word[2], ty_range);
  // The last free word of the two blocks, so the draws above are the same with or without flips.
  const bool flip = static_cast<double>(philox_unit_float(second.word[3])) < ranges.hflip;

  // Forward map about the centre c: dst = c + t + R S D (src - c), with R the rotation
  // (counter-clockwise on screen, y pointing down), S = [[1, shx], [0, 1]] [[1, 0], [shy, 1]] and
  // D = diag(scale squeeze, scale / squeeze), times F = diag(-1, 1) on the right when the sample
  // is mirrored: its inverse F A^-1 negates the first row of A^-1.
  const double c = std::cos(angle), s = std::sin(angle);
  const double sx = scale * squeeze, sy = scale / squeeze;
  const double s00 = 1.0 + shear_x * shear_y, s01 = shear_x, s10 = shear_y, s11 = 1.0;
  const double a00 = (c * s00 + s * s10) * sx, a01 = (c * s01 + s * s11) * sy;
  const double a10 = (-s * s00 + c * s10) * sx, a11 = (-s * s01 + c * s11) * sy;
  const double det = a00 * a11 - a01 * a10;
  const double mirror = flip ? -1.0 : 1.0;
  const double i00 = mirror * a11 / det, i01 = -mirror * a01 / det;
  const double i10 = -a10 / det, i11 = a00 / det;
  const double cx = (static_cast<double>(width) - 1.0) / 2.0;
  const double cy = (static_cast<double>(height) - 1.0) / 2.0;
  inverse[0] = static_cast<float>(i00);
  inverse[1] = static_cast<float>(i01);
  inverse[2] = static_cast<float>(cx - i00 * (cx + tx) - i01 * (cy + ty));
  inverse[3] = static_cast<float>(i10);
  inverse[4] = static_cast<float>(i11);
  inverse[5] = static_cast<float>(cy - i10 * (cx + tx) - i11 * (cy + ty));
}

CropOffset crop_offset(const SampleDraws& draws, std::int64_t index, std::size_t max_top,
                       std::size_t max_left) {
  const Philox4x32Block block = sample_block(draws, index, 0);
  return {uniform_index(block.word[0], max_top), uniform_index(block.word[1], max_left)};
}

EraseBox erase_box(const SampleDraws& draws, std::int64_t index, std::size_t height,
                   std::size_t width, double p, const double scale[2], const double ratio[2]) {
  const Philox4x32Block decision = sample_block(draws, index, 0);
  if (!(static_cast<double>(philox_unit_float(decision.word[0])) < p)) return {0, 0, 0, 0};
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_ratio[2] = {std::log(ratio[0]), std::log(ratio[1])};
  for (std::uint32_t attempt = 0; attempt < 10; ++attempt) {
    const Philox4x32Block block = sample_block(draws, index, 1 + attempt);
    const double erase_area = area * uniform(block.word[0], scale);
    const double aspect = std::exp(uniform(block.word[1], log_ratio));
    // Round half to even, as Python's round() in torchvision.
    const double box_h = std::nearbyint(std::sqrt(erase_area * aspect));
    const double box_w = std::nearbyint(std::sqrt(erase_area / aspect));
    if (!(box_h < static_cast<double>(height) && box_w < static_cast<double>(width))) continue;
    const auto h = static_cast<std::size_t>(box_h), w = static_cast<std::size_t>(box_w);
    return {uniform_index(block.word[2], height - h), uniform_index(block.word[3], width - w), h,
            w};
  }
  return {0, 0, 0, 0};
}

}  // namespace odyssey::augment_draws
