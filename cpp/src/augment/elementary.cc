// The light transforms, scalar only (they move memory and do no arithmetic worth vectorising by
// hand): normalize, shifted windows (pad and crop) and erasing, parallel over samples.
#include <algorithm>
#include <cstring>

#include "draws.h"
#include "odyssey/augment.h"
#include "sample_loop.h"

namespace odyssey {
namespace {

using augment_loop::for_each_sample;

// One plane of the window: rows and columns of src that fall inside are copied, the rest is fill.
void window_plane(const float* src, float* dst, std::size_t height, std::size_t width,
                  std::size_t out_height, std::size_t out_width, std::int64_t top,
                  std::int64_t left, float fill) {
  const auto h = static_cast<std::int64_t>(height), w = static_cast<std::int64_t>(width);
  const auto ow = static_cast<std::int64_t>(out_width);
  // Output columns [x_begin, x_end) read src columns [x_begin + left, x_end + left).
  const std::int64_t x_begin = std::clamp<std::int64_t>(-left, 0, ow);
  const std::int64_t x_end = std::clamp<std::int64_t>(w - left, x_begin, ow);
  for (std::size_t y = 0; y < out_height; ++y) {
    float* row = dst + y * out_width;
    const std::int64_t sy = static_cast<std::int64_t>(y) + top;
    if (sy < 0 || sy >= h || x_begin == x_end) {
      std::fill(row, row + out_width, fill);
      continue;
    }
    std::fill(row, row + x_begin, fill);
    std::memcpy(row + x_begin, src + sy * w + x_begin + left,
                static_cast<std::size_t>(x_end - x_begin) * sizeof(float));
    std::fill(row + x_end, row + out_width, fill);
  }
}

}  // namespace

void normalize(const float* src, float* dst, const BatchShape& shape, const float* mean,
               const float* std) {
  const std::size_t plane = shape.height * shape.width;
  for_each_sample(shape.count, shape.image_floats(), [&](std::size_t i) {
    for (std::size_t c = 0; c < shape.channels; ++c) {
      const std::size_t at = (i * shape.channels + c) * plane;
      for (std::size_t k = 0; k < plane; ++k) dst[at + k] = (src[at + k] - mean[c]) / std[c];
    }
  });
}

void shifted_window(const float* src, float* dst, const BatchShape& shape, std::size_t out_height,
                    std::size_t out_width, const std::int64_t* top, const std::int64_t* left,
                    float fill) {
  const std::size_t in_plane = shape.height * shape.width, out_plane = out_height * out_width;
  for_each_sample(shape.count, shape.channels * out_plane, [&](std::size_t i) {
    for (std::size_t c = 0; c < shape.channels; ++c) {
      const std::size_t plane = i * shape.channels + c;
      window_plane(src + plane * in_plane, dst + plane * out_plane, shape.height, shape.width,
                   out_height, out_width, top[i], left[i], fill);
    }
  });
}

void random_crop(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                 std::size_t out_height, std::size_t out_width, std::size_t pad_top,
                 std::size_t pad_left, std::size_t pad_bottom, std::size_t pad_right, float fill) {
  const std::size_t max_top = shape.height + pad_top + pad_bottom - out_height;
  const std::size_t max_left = shape.width + pad_left + pad_right - out_width;
  const std::size_t in_plane = shape.height * shape.width, out_plane = out_height * out_width;
  for_each_sample(shape.count, shape.channels * out_plane, [&](std::size_t i) {
    const auto offset = augment_draws::crop_offset(draws, draws.indices[i], max_top, max_left);
    const auto top = static_cast<std::int64_t>(offset.top) - static_cast<std::int64_t>(pad_top);
    const auto left = static_cast<std::int64_t>(offset.left) - static_cast<std::int64_t>(pad_left);
    for (std::size_t c = 0; c < shape.channels; ++c) {
      const std::size_t plane = i * shape.channels + c;
      window_plane(src + plane * in_plane, dst + plane * out_plane, shape.height, shape.width,
                   out_height, out_width, top, left, fill);
    }
  });
}

void random_erasing(const float* src, float* dst, const BatchShape& shape, const SampleDraws& draws,
                    double p, const double scale[2], const double ratio[2], const float* value) {
  const std::size_t n = shape.image_floats(), plane = shape.height * shape.width;
  for_each_sample(shape.count, n, [&](std::size_t i) {
    if (src != dst) std::memcpy(dst + i * n, src + i * n, n * sizeof(float));
    const auto box = augment_draws::erase_box(draws, draws.indices[i], shape.height, shape.width, p,
                                              scale, ratio);
    for (std::size_t c = 0; c < shape.channels; ++c) {
      float* image = dst + i * n + c * plane;
      for (std::size_t y = box.top; y < box.top + box.height; ++y) {
        std::fill(image + y * shape.width + box.left,
                  image + y * shape.width + box.left + box.width, value[c]);
      }
    }
  });
}

}  // namespace odyssey
