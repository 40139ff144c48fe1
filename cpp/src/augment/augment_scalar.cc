// The reference warps and blur every SIMD variant is tested against.
#include <cmath>

#include "odyssey/augment.h"
#include "odyssey/philox.h"

namespace odyssey::scalar {
namespace {

// A coordinate beyond [-1, size] reads fill at both neighbours; clamping to [-2, size + 1] keeps
// the float-to-int conversion defined for any input, NaN included (it becomes -2).
float clamp_coordinate(float v, float size) {
  const float low = v > -2.0f ? v : -2.0f;
  return low < size + 1.0f ? low : size + 1.0f;
}

// The four neighbours of a source point and its bilinear weights, shared by every channel.
struct Footprint {
  long x0, y0;
  float fx, fy;
};

Footprint footprint(float sx, float sy, std::size_t height, std::size_t width) {
  sx = clamp_coordinate(sx, static_cast<float>(width));
  sy = clamp_coordinate(sy, static_cast<float>(height));
  const float floor_x = std::floor(sx), floor_y = std::floor(sy);
  return {static_cast<long>(floor_x), static_cast<long>(floor_y), sx - floor_x, sy - floor_y};
}

float pixel(const float* plane, long y, long x, std::size_t height, std::size_t width, float fill) {
  const bool inside =
      x >= 0 && y >= 0 && x < static_cast<long>(width) && y < static_cast<long>(height);
  return inside ? plane[static_cast<std::size_t>(y) * width + static_cast<std::size_t>(x)] : fill;
}

float bilinear(const float* plane, const Footprint& f, std::size_t height, std::size_t width,
               float fill) {
  const float v00 = pixel(plane, f.y0, f.x0, height, width, fill);
  const float v01 = pixel(plane, f.y0, f.x0 + 1, height, width, fill);
  const float v10 = pixel(plane, f.y0 + 1, f.x0, height, width, fill);
  const float v11 = pixel(plane, f.y0 + 1, f.x0 + 1, height, width, fill);
  const float top = v00 + f.fx * (v01 - v00);
  const float bottom = v10 + f.fx * (v11 - v10);
  return top + f.fy * (bottom - top);
}

void sample_all_channels(const float* src, float* dst, std::size_t channels, std::size_t height,
                         std::size_t width, std::size_t y, std::size_t x, float sx, float sy,
                         float fill) {
  const std::size_t plane = height * width;
  const Footprint f = footprint(sx, sy, height, width);
  for (std::size_t c = 0; c < channels; ++c) {
    dst[c * plane + y * width + x] = bilinear(src + c * plane, f, height, width, fill);
  }
}

void affine_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                 std::size_t width, const float* inverse, float fill) {
  for (std::size_t y = 0; y < height; ++y) {
    const float fy = static_cast<float>(y);
    const float row_x = inverse[1] * fy + inverse[2], row_y = inverse[4] * fy + inverse[5];
    for (std::size_t x = 0; x < width; ++x) {
      const float fx = static_cast<float>(x);
      sample_all_channels(src, dst, channels, height, width, y, x, inverse[0] * fx + row_x,
                          inverse[3] * fx + row_y, fill);
    }
  }
}

void displacement_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                       std::size_t width, const float* dx, const float* dy, float fill) {
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      const std::size_t at = y * width + x;
      sample_all_channels(src, dst, channels, height, width, y, x, static_cast<float>(x) + dx[at],
                          static_cast<float>(y) + dy[at], fill);
    }
  }
}

void gaussian_blur(float* field, std::size_t height, std::size_t width, const float* taps,
                   std::size_t radius, float* scratch) {
  const std::size_t taps_count = 2 * radius + 1;
  const std::size_t row_stride = width + 2 * radius;
  float* rows = scratch;                           // height x (width + 2 radius), zero margins
  float* columns = scratch + height * row_stride;  // (height + 2 radius) x width, zero margins
  const std::size_t scratch_floats = height * row_stride + (height + 2 * radius) * width;
  for (std::size_t i = 0; i < scratch_floats; ++i) scratch[i] = 0.0f;
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x)
      rows[y * row_stride + radius + x] = field[y * width + x];
  }
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      float sum = 0.0f;
      for (std::size_t k = 0; k < taps_count; ++k) sum += taps[k] * rows[y * row_stride + x + k];
      columns[(y + radius) * width + x] = sum;
    }
  }
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x) {
      float sum = 0.0f;
      for (std::size_t k = 0; k < taps_count; ++k) sum += taps[k] * columns[(y + k) * width + x];
      field[y * width + x] = sum;
    }
  }
}

void uniform_field(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                   std::uint32_t epoch, float* out, std::size_t count) {
  const Philox4x32Key k{{key[0], key[1]}};
  for (std::size_t i = 0; i < count; i += 4) {
    const auto block_index = static_cast<std::uint32_t>(i / 4);
    const Philox4x32Block block = philox4x32_10({{block_index, stream, index, epoch}}, k);
    for (std::size_t w = 0; w < 4 && i + w < count; ++w) {
      out[i + w] = 2.0f * philox_unit_float(block.word[w]) - 1.0f;
    }
  }
}

void bytes_to_unit_floats(const std::uint8_t* src, float* dst, std::size_t count) {
  for (std::size_t k = 0; k < count; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
}

}  // namespace

const AugmentKernels kAugment{.affine_warp = affine_warp,
                              .displacement_warp = displacement_warp,
                              .gaussian_blur = gaussian_blur,
                              .uniform_field = uniform_field,
                              .bytes_to_unit_floats = bytes_to_unit_floats};

}  // namespace odyssey::scalar
