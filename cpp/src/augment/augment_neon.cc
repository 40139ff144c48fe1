// NEON variant for AArch64: four output pixels of a row at a time. NEON has no gather, so the
// coordinates, bounds and weights are computed in vectors and the neighbours loaded lane by lane.
#include <arm_neon.h>

#include <cstdint>

#include "odyssey/augment.h"
#include "odyssey/philox.h"

namespace odyssey::neon {
namespace {

constexpr std::size_t kLanes = 4;

float32x4_t lane_offsets() {
  const float offsets[kLanes] = {0.0f, 1.0f, 2.0f, 3.0f};
  return vld1q_f32(offsets);
}

// Neighbour offsets (or -1 for fill) and weights of four source points, shared by every channel.
struct Footprint {
  std::int32_t index[4][kLanes];  // 00, 01, 10, 11
  float32x4_t fx, fy;
};

// -1 where the neighbour (x, y) lies outside the image, else its offset y * width + x.
int32x4_t offset_or_minus_one(int32x4_t x, int32x4_t y, int32x4_t w, int32x4_t h) {
  const uint32x4_t inside =
      vandq_u32(vcltq_u32(vreinterpretq_u32_s32(x), vreinterpretq_u32_s32(w)),
                vcltq_u32(vreinterpretq_u32_s32(y), vreinterpretq_u32_s32(h)));
  return vbslq_s32(inside, vmlaq_s32(x, y, w), vdupq_n_s32(-1));
}

// As the reference: clamp to [-2, size + 1] (NaN becomes -2, since vmaxnm prefers the number),
// floor, and test each neighbour against the image with unsigned compares.
Footprint footprint(float32x4_t sx, float32x4_t sy, std::size_t height, std::size_t width) {
  const float32x4_t low = vdupq_n_f32(-2.0f);
  sx = vminq_f32(vmaxnmq_f32(sx, low), vdupq_n_f32(static_cast<float>(width) + 1.0f));
  sy = vminq_f32(vmaxnmq_f32(sy, low), vdupq_n_f32(static_cast<float>(height) + 1.0f));
  const float32x4_t floor_x = vrndmq_f32(sx), floor_y = vrndmq_f32(sy);
  const int32x4_t x0 = vcvtq_s32_f32(floor_x), y0 = vcvtq_s32_f32(floor_y);
  const int32x4_t ones = vdupq_n_s32(1);
  const int32x4_t w = vdupq_n_s32(static_cast<std::int32_t>(width));
  const int32x4_t h = vdupq_n_s32(static_cast<std::int32_t>(height));
  const int32x4_t x1 = vaddq_s32(x0, ones), y1 = vaddq_s32(y0, ones);
  Footprint f;
  vst1q_s32(f.index[0], offset_or_minus_one(x0, y0, w, h));
  vst1q_s32(f.index[1], offset_or_minus_one(x1, y0, w, h));
  vst1q_s32(f.index[2], offset_or_minus_one(x0, y1, w, h));
  vst1q_s32(f.index[3], offset_or_minus_one(x1, y1, w, h));
  f.fx = vsubq_f32(sx, floor_x);
  f.fy = vsubq_f32(sy, floor_y);
  return f;
}

float32x4_t neighbours(const float* plane, const std::int32_t* index, float fill) {
  float values[kLanes];
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    values[lane] = index[lane] < 0 ? fill : plane[index[lane]];
  }
  return vld1q_f32(values);
}

float32x4_t bilinear(const float* plane, const Footprint& f, float fill) {
  const float32x4_t v00 = neighbours(plane, f.index[0], fill);
  const float32x4_t v01 = neighbours(plane, f.index[1], fill);
  const float32x4_t v10 = neighbours(plane, f.index[2], fill);
  const float32x4_t v11 = neighbours(plane, f.index[3], fill);
  const float32x4_t top = vfmaq_f32(v00, f.fx, vsubq_f32(v01, v00));
  const float32x4_t bottom = vfmaq_f32(v10, f.fx, vsubq_f32(v11, v10));
  return vfmaq_f32(top, f.fy, vsubq_f32(bottom, top));
}

// Writes the first `count` lanes (at most four) of v.
void store_first(float* p, float32x4_t v, std::size_t count) {
  if (count >= kLanes) {
    vst1q_f32(p, v);
    return;
  }
  float lanes[kLanes];
  vst1q_f32(lanes, v);
  for (std::size_t i = 0; i < count; ++i) p[i] = lanes[i];
}

float32x4_t load_first(const float* p, std::size_t count) {
  if (count >= kLanes) return vld1q_f32(p);
  float lanes[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (std::size_t i = 0; i < count; ++i) lanes[i] = p[i];
  return vld1q_f32(lanes);
}

void sample_all_channels(const float* src, float* dst, std::size_t channels, std::size_t height,
                         std::size_t width, std::size_t at, float32x4_t sx, float32x4_t sy,
                         std::size_t count, float fill) {
  const std::size_t plane = height * width;
  const Footprint f = footprint(sx, sy, height, width);
  for (std::size_t c = 0; c < channels; ++c) {
    store_first(dst + c * plane + at, bilinear(src + c * plane, f, fill), count);
  }
}

void affine_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                 std::size_t width, const float* inverse, float fill) {
  const float32x4_t offsets = lane_offsets();
  const float32x4_t m0 = vdupq_n_f32(inverse[0]), m3 = vdupq_n_f32(inverse[3]);
  for (std::size_t y = 0; y < height; ++y) {
    const float fy = static_cast<float>(y);
    const float32x4_t row_x = vdupq_n_f32(inverse[1] * fy + inverse[2]);
    const float32x4_t row_y = vdupq_n_f32(inverse[4] * fy + inverse[5]);
    for (std::size_t x = 0; x < width; x += kLanes) {
      const float32x4_t xs = vaddq_f32(vdupq_n_f32(static_cast<float>(x)), offsets);
      sample_all_channels(src, dst, channels, height, width, y * width + x,
                          vfmaq_f32(row_x, m0, xs), vfmaq_f32(row_y, m3, xs), width - x, fill);
    }
  }
}

void displacement_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                       std::size_t width, const float* dx, const float* dy, float fill) {
  const float32x4_t offsets = lane_offsets();
  for (std::size_t y = 0; y < height; ++y) {
    const float32x4_t ys = vdupq_n_f32(static_cast<float>(y));
    for (std::size_t x = 0; x < width; x += kLanes) {
      const std::size_t at = y * width + x;
      const float32x4_t xs = vaddq_f32(vdupq_n_f32(static_cast<float>(x)), offsets);
      const float32x4_t sx = vaddq_f32(xs, load_first(dx + at, width - x));
      const float32x4_t sy = vaddq_f32(ys, load_first(dy + at, width - x));
      sample_all_channels(src, dst, channels, height, width, at, sx, sy, width - x, fill);
    }
  }
}

// out[x] = sum_k taps[k] in[x + k * step] for x in [0, n).
void correlate(const float* in, std::size_t step, float* out, std::size_t n, const float* taps,
               std::size_t taps_count) {
  for (std::size_t x = 0; x < n; x += kLanes) {
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (std::size_t k = 0; k < taps_count; ++k) {
      sum = vfmaq_f32(sum, vdupq_n_f32(taps[k]), load_first(in + x + k * step, n - x));
    }
    store_first(out + x, sum, n - x);
  }
}

void gaussian_blur(float* field, std::size_t height, std::size_t width, const float* taps,
                   std::size_t radius, float* scratch) {
  const std::size_t taps_count = 2 * radius + 1;
  const std::size_t row_stride = width + 2 * radius;
  float* rows = scratch;
  float* columns = scratch + height * row_stride;
  const std::size_t scratch_floats = height * row_stride + (height + 2 * radius) * width;
  for (std::size_t i = 0; i < scratch_floats; ++i) scratch[i] = 0.0f;
  for (std::size_t y = 0; y < height; ++y) {
    for (std::size_t x = 0; x < width; ++x)
      rows[y * row_stride + radius + x] = field[y * width + x];
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate(rows + y * row_stride, 1, columns + (y + radius) * width, width, taps, taps_count);
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate(columns + y * width, width, field + y * width, width, taps, taps_count);
  }
}

// Philox4x32-10 of four counters at once, c[w] holding word w of each; the 32 x 32 -> 64-bit
// products come from two widening multiplies, de-interleaved into low and high halves.
void philox4x32_10_x4(uint32x4_t c[4], std::uint32_t k0, std::uint32_t k1) {
  const uint32x4_t m0 = vdupq_n_u32(kPhiloxMultiplier0), m1 = vdupq_n_u32(kPhiloxMultiplier1);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    const uint32x4_t p0_low =
        vreinterpretq_u32_u64(vmull_u32(vget_low_u32(c[0]), vget_low_u32(m0)));
    const uint32x4_t p0_high = vreinterpretq_u32_u64(vmull_high_u32(c[0], m0));
    const uint32x4_t p1_low =
        vreinterpretq_u32_u64(vmull_u32(vget_low_u32(c[2]), vget_low_u32(m1)));
    const uint32x4_t p1_high = vreinterpretq_u32_u64(vmull_high_u32(c[2], m1));
    const uint32x4_t lo0 = vuzp1q_u32(p0_low, p0_high), hi0 = vuzp2q_u32(p0_low, p0_high);
    const uint32x4_t lo1 = vuzp1q_u32(p1_low, p1_high), hi1 = vuzp2q_u32(p1_low, p1_high);
    c[0] = veorq_u32(veorq_u32(hi1, c[1]), vdupq_n_u32(k0));
    c[1] = lo1;
    c[2] = veorq_u32(veorq_u32(hi0, c[3]), vdupq_n_u32(k1));
    c[3] = lo0;
  }
}

// 2 u - 1 with u = (w >> 8) / 2^24: every step is exact, so the bits match the reference.
float32x4_t signed_unit(uint32x4_t w) {
  return vfmaq_f32(vdupq_n_f32(-1.0f), vcvtq_f32_u32(vshrq_n_u32(w, 8)),
                   vdupq_n_f32(1.0f / 8388608.0f));
}

void uniform_field(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                   std::uint32_t epoch, float* out, std::size_t count) {
  const std::uint32_t offsets[kLanes] = {0, 1, 2, 3};
  const uint32x4_t lanes = vld1q_u32(offsets);
  constexpr std::size_t kValues = 4 * kLanes;
  for (std::size_t i = 0; i < count; i += kValues) {
    uint32x4_t c[4] = {vaddq_u32(vdupq_n_u32(static_cast<std::uint32_t>(i / 4)), lanes),
                       vdupq_n_u32(stream), vdupq_n_u32(index), vdupq_n_u32(epoch)};
    philox4x32_10_x4(c, key[0], key[1]);
    // vst4q interleaves the four words of each block, as the reference lays them out.
    const float32x4x4_t f = {
        {signed_unit(c[0]), signed_unit(c[1]), signed_unit(c[2]), signed_unit(c[3])}};
    if (i + kValues <= count) {
      vst4q_f32(out + i, f);
    } else {
      float tail[kValues];
      vst4q_f32(tail, f);
      for (std::size_t k = 0; i + k < count; ++k) out[i + k] = tail[k];
    }
  }
}

// Eight bytes widened to two vectors of four floats; AArch64 divides exactly in vectors.
void bytes_to_unit_floats(const std::uint8_t* src, float* dst, std::size_t count) {
  const float32x4_t k255 = vdupq_n_f32(255.0f);
  std::size_t k = 0;
  for (; k + 2 * kLanes <= count; k += 2 * kLanes) {
    const uint16x8_t wide = vmovl_u8(vld1_u8(src + k));
    const float32x4_t low = vcvtq_f32_u32(vmovl_u16(vget_low_u16(wide)));
    const float32x4_t high = vcvtq_f32_u32(vmovl_u16(vget_high_u16(wide)));
    vst1q_f32(dst + k, vdivq_f32(low, k255));
    vst1q_f32(dst + k + kLanes, vdivq_f32(high, k255));
  }
  for (; k < count; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
}

}  // namespace

const AugmentKernels kAugment{affine_warp, displacement_warp, gaussian_blur, uniform_field,
                              bytes_to_unit_floats};

}  // namespace odyssey::neon
