// The augmentation kernels written once over a lane type V (odyssey/simd/vec_*.h); each
// augment_<isa>.cc instantiates them with its own V. A row is processed kLanes output pixels at a
// time, the last vector masked; a pixel's four neighbours come from masked gathers, where a lane
// that is off (outside the image or past the row) reads fill and never memory. Includes no
// standard-library header that could emit inline functions compiled for a SIMD target.
#pragma once

#include <cstddef>
#include <cstdint>

#include "odyssey/augment.h"
#include "odyssey/philox.h"

namespace odyssey::simd {
// Internal linkage, as the per-ISA functions this replaces had: each translation unit keeps its
// own instances, and GCC may then keep vectors in registers across the calls into
// sample_all_channels_call (it knows which registers the callee uses); spilling them instead cost
// a sixth of affine_warp's time on 28 x 28 images.
namespace {

// Gather indices, lane masks and bilinear weights of kLanes source points, shared by every
// channel.
template <class V>
struct Footprint {
  typename V::I index00;
  typename V::Mask in00, in01, in10, in11;
  typename V::T fx, fy;
};

// As the reference: clamp to [-2, size + 1] (NaN becomes -2), floor, and test each neighbour
// against the image; lanes that are off in `lanes` read none.
template <class V>
Footprint<V> footprint(typename V::T sx, typename V::T sy, std::size_t height, std::size_t width,
                       typename V::Mask lanes) {
  using I = typename V::I;
  using Mask = typename V::Mask;
  const typename V::T low = V::set1(-2.0f);
  sx = V::clamp(sx, low, V::set1(static_cast<float>(width) + 1.0f));
  sy = V::clamp(sy, low, V::set1(static_cast<float>(height) + 1.0f));
  const typename V::T floor_x = V::floor(sx), floor_y = V::floor(sy);
  const I x0 = V::to_int(floor_x), y0 = V::to_int(floor_y);
  const I one = V::iset1(1);
  const I w = V::iset1(static_cast<std::uint32_t>(width));
  const I h = V::iset1(static_cast<std::uint32_t>(height));
  const Mask x0_in = V::in_range(x0, w), x1_in = V::in_range(V::iadd(x0, one), w);
  const Mask y0_in = V::mask_and(lanes, V::in_range(y0, h));
  const Mask y1_in = V::mask_and(lanes, V::in_range(V::iadd(y0, one), h));
  Footprint<V> f;
  f.index00 = V::iadd(V::imul(y0, w), x0);
  f.in00 = V::mask_and(x0_in, y0_in);
  f.in01 = V::mask_and(x1_in, y0_in);
  f.in10 = V::mask_and(x0_in, y1_in);
  f.in11 = V::mask_and(x1_in, y1_in);
  f.fx = V::sub(sx, floor_x);
  f.fy = V::sub(sy, floor_y);
  return f;
}

template <class V>
typename V::T bilinear(const float* plane, const Footprint<V>& f, std::size_t width,
                       typename V::T fill) {
  using I = typename V::I;
  using T = typename V::T;
  const I right = V::iset1(1);
  const I index01 = V::iadd(f.index00, right);
  const I index10 = V::iadd(f.index00, V::iset1(static_cast<std::uint32_t>(width)));
  const I index11 = V::iadd(index10, right);
  const T v00 = V::gather(plane, f.index00, f.in00, fill);
  const T v01 = V::gather(plane, index01, f.in01, fill);
  const T v10 = V::gather(plane, index10, f.in10, fill);
  const T v11 = V::gather(plane, index11, f.in11, fill);
  const T top = V::fmadd(f.fx, V::sub(v01, v00), v00);
  const T bottom = V::fmadd(f.fx, V::sub(v11, v10), v10);
  return V::fmadd(f.fy, V::sub(bottom, top), top);
}

// Output pixels at..at + kLanes - 1 of every channel (those on in `lanes`) from source points
// (sx, sy).
template <class V>
[[gnu::always_inline]] inline void sample_all_channels(const float* src, float* dst,
                                                       std::size_t channels, std::size_t height,
                                                       std::size_t width, std::size_t at,
                                                       typename V::T sx, typename V::T sy,
                                                       typename V::Mask lanes, float fill) {
  const std::size_t plane = height * width;
  const Footprint<V> f = footprint<V>(sx, sy, height, width, lanes);
  const typename V::T fill_v = V::set1(fill);
  for (std::size_t c = 0; c < channels; ++c) {
    V::store_mask(dst + c * plane + at, bilinear<V>(src + c * plane, f, width, fill_v), lanes);
  }
}

template <class V>
[[gnu::noinline]] void sample_all_channels_call(const float* src, float* dst, std::size_t channels,
                                                std::size_t height, std::size_t width,
                                                std::size_t at, typename V::T sx, typename V::T sy,
                                                typename V::Mask lanes, float fill) {
  sample_all_channels<V>(src, dst, channels, height, width, at, sx, sy, lanes, fill);
}

// sample_all_channels inside the row loop when Tuning::kInlineSampling (AVX-512, whose 32 vector
// registers hold the row's constants and a footprint at once: 1.05-1.6x on the warps), else as a
// call (inlined on AVX2, with 16 registers, the warps measured 2-5 % slower).
template <class V, class Tuning>
[[gnu::always_inline]] inline void sample(const float* src, float* dst, std::size_t channels,
                                          std::size_t height, std::size_t width, std::size_t at,
                                          typename V::T sx, typename V::T sy,
                                          typename V::Mask lanes, float fill) {
  if constexpr (Tuning::kInlineSampling) {
    sample_all_channels<V>(src, dst, channels, height, width, at, sx, sy, lanes, fill);
  } else {
    sample_all_channels_call<V>(src, dst, channels, height, width, at, sx, sy, lanes, fill);
  }
}

template <class V, class Tuning>
void affine_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                 std::size_t width, const float* inverse, float fill) {
  using T = typename V::T;
  const T offsets = V::iota();
  const T m0 = V::set1(inverse[0]), m3 = V::set1(inverse[3]);
  for (std::size_t y = 0; y < height; ++y) {
    const float fy = static_cast<float>(y);
    const T row_x = V::set1(inverse[1] * fy + inverse[2]);
    const T row_y = V::set1(inverse[4] * fy + inverse[5]);
    for (std::size_t x = 0; x < width; x += V::kLanes) {
      const T xs = V::add(V::set1(static_cast<float>(x)), offsets);
      sample<V, Tuning>(src, dst, channels, height, width, y * width + x, V::fmadd(m0, xs, row_x),
                        V::fmadd(m3, xs, row_y), V::mask_first(width - x), fill);
    }
  }
}

template <class V, class Tuning>
void displacement_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                       std::size_t width, const float* dx, const float* dy, float fill) {
  using T = typename V::T;
  const T offsets = V::iota();
  for (std::size_t y = 0; y < height; ++y) {
    const T ys = V::set1(static_cast<float>(y));
    for (std::size_t x = 0; x < width; x += V::kLanes) {
      const std::size_t at = y * width + x;
      const typename V::Mask lanes = V::mask_first(width - x);
      const T xs = V::add(V::set1(static_cast<float>(x)), offsets);
      const T sx = V::add(xs, V::load_mask(dx + at, lanes));
      const T sy = V::add(ys, V::load_mask(dy + at, lanes));
      sample<V, Tuning>(src, dst, channels, height, width, at, sx, sy, lanes, fill);
    }
  }
}

// sum_k taps[k] in[k * step], one vector, the taps in order (as the reference adds them).
template <class V, class Load>
typename V::T correlate_at(const float* in, std::size_t step, const float* taps,
                           std::size_t taps_count, const Load& load) {
  typename V::T sum = V::zero();
  for (std::size_t k = 0; k < taps_count; ++k) {
    sum = V::fmadd(V::set1(taps[k]), load(in + k * step), sum);
  }
  return sum;
}

// out[x] = sum_k taps[k] in[x + k * step] for x in [0, n): full vectors, then a masked one.
template <class V>
void correlate(const float* in, std::size_t step, float* out, std::size_t n, const float* taps,
               std::size_t taps_count) {
  std::size_t x = 0;
  for (; x + V::kLanes <= n; x += V::kLanes) {
    V::store(out + x, correlate_at<V>(in + x, step, taps, taps_count,
                                      [](const float* p) { return V::load(p); }));
  }
  if (x < n) {
    const typename V::Mask lanes = V::mask_first(n - x);
    V::store_mask(out + x,
                  correlate_at<V>(in + x, step, taps, taps_count,
                                  [lanes](const float* p) { return V::load_mask(p, lanes); }),
                  lanes);
  }
}

template <class V>
void fill_zero(float* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(p + i, V::zero());
  if (i < n) V::store_mask(p + i, V::zero(), V::mask_first(n - i));
}

template <class V>
void copy(const float* from, float* to, std::size_t n) {
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(to + i, V::load(from + i));
  if (i < n) {
    const typename V::Mask lanes = V::mask_first(n - i);
    V::store_mask(to + i, V::load_mask(from + i, lanes), lanes);
  }
}

template <class V>
void gaussian_blur(float* field, std::size_t height, std::size_t width, const float* taps,
                   std::size_t radius, float* scratch) {
  const std::size_t taps_count = 2 * radius + 1;
  const std::size_t row_stride = width + 2 * radius;
  float* rows = scratch;                           // height x (width + 2 radius), zero margins
  float* columns = scratch + height * row_stride;  // (height + 2 radius) x width, zero margins
  fill_zero<V>(scratch, height * row_stride + (height + 2 * radius) * width);
  for (std::size_t y = 0; y < height; ++y) {
    copy<V>(field + y * width, rows + y * row_stride + radius, width);
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate<V>(rows + y * row_stride, 1, columns + (y + radius) * width, width, taps, taps_count);
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate<V>(columns + y * width, width, field + y * width, width, taps, taps_count);
  }
}

// Philox4x32-10 of kLanes counters at once, c[w] holding word w of each.
template <class V>
void philox4x32_10_lanes(typename V::I c[4], std::uint32_t k0, std::uint32_t k1) {
  using I = typename V::I;
  const I m0 = V::iset1(kPhiloxMultiplier0), m1 = V::iset1(kPhiloxMultiplier1);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    I hi0, lo0, hi1, lo1;
    V::mul_wide(c[0], m0, hi0, lo0);
    V::mul_wide(c[2], m1, hi1, lo1);
    c[0] = V::ixor(V::ixor(hi1, c[1]), V::iset1(k0));
    c[1] = lo1;
    c[2] = V::ixor(V::ixor(hi0, c[3]), V::iset1(k1));
    c[3] = lo0;
  }
}

// 2 u - 1 with u = (w >> 8) / 2^24: every step is exact, so the bits match the reference.
template <class V>
typename V::T signed_unit(typename V::I w) {
  return V::fmadd(V::to_float(V::template shift_right<8>(w)), V::set1(1.0f / 8388608.0f),
                  V::set1(-1.0f));
}

template <class V>
void uniform_field(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                   std::uint32_t epoch, float* out, std::size_t count) {
  constexpr std::size_t kValues = 4 * V::kLanes;
  const typename V::I lanes = V::iiota();
  for (std::size_t i = 0; i < count; i += kValues) {
    typename V::I c[4] = {V::iadd(V::iset1(static_cast<std::uint32_t>(i / 4)), lanes),
                          V::iset1(stream), V::iset1(index), V::iset1(epoch)};
    philox4x32_10_lanes<V>(c, key[0], key[1]);
    const typename V::T f[4] = {signed_unit<V>(c[0]), signed_unit<V>(c[1]), signed_unit<V>(c[2]),
                                signed_unit<V>(c[3])};
    if (i + kValues <= count) {
      V::store_interleaved4(out + i, f);
    } else {
      float tail[kValues];
      V::store_interleaved4(tail, f);
      for (std::size_t k = 0; i + k < count; ++k) out[i + k] = tail[k];
    }
  }
}

// A division costs several multiplies: q = v (1/255), then one FMA step on the exact residual
// v - 255 q gives the correctly rounded quotient for every byte (the tests check all 256).
template <class V>
void bytes_to_unit_floats(const std::uint8_t* src, float* dst, std::size_t count) {
  using T = typename V::T;
  const T k255 = V::set1(255.0f), inverse = V::set1(1.0f / 255.0f);
  std::size_t k = 0;
  for (; k + V::kLanes <= count; k += V::kLanes) {
    const T v = V::load_bytes(src + k);
    const T q = V::mul(v, inverse);
    V::store(dst + k, V::fmadd(V::fnmadd(q, k255, v), inverse, q));
  }
  for (; k < count; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
}

// V is the lane type; Tuning::kInlineSampling says whether the warps inline the sampling of a
// vector of pixels into their row loops.
template <class V, class Tuning>
constexpr AugmentKernels augment_kernels_for() {
  return AugmentKernels{.affine_warp = affine_warp<V, Tuning>,
                        .displacement_warp = displacement_warp<V, Tuning>,
                        .gaussian_blur = gaussian_blur<V>,
                        .uniform_field = uniform_field<V>,
                        .bytes_to_unit_floats = bytes_to_unit_floats<V>};
}

}  // namespace
}  // namespace odyssey::simd
