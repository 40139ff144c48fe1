// AVX2+FMA variant, compiled with -mavx2 -mfma: eight output pixels of a row at a time, their
// four neighbours fetched with masked gathers (a masked-off lane reads fill, never memory).
// Includes no standard-library header that could emit inline functions compiled for AVX2.
#include <immintrin.h>

#include <cstdint>

#include "odyssey/augment.h"
#include "odyssey/philox.h"

namespace odyssey::avx2 {
namespace {

constexpr std::size_t kLanes = 8;

// All-ones in the first `count` lanes (count may exceed 8).
__m256i first_lanes(std::size_t count) {
  const int n = count >= kLanes ? static_cast<int>(kLanes) : static_cast<int>(count);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__m256 lane_offsets() { return _mm256_setr_ps(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f); }

// Gather indices, lane masks and weights of eight source points, shared by every channel.
struct Footprint {
  __m256i index00;
  __m256 in00, in01, in10, in11;
  __m256 fx, fy;
};

// 0 <= v < size, lane by lane, as a float mask for the gathers.
__m256 inside(__m256i v, __m256i size) {
  const __m256i nonnegative = _mm256_cmpgt_epi32(v, _mm256_set1_epi32(-1));
  return _mm256_castsi256_ps(_mm256_and_si256(nonnegative, _mm256_cmpgt_epi32(size, v)));
}

// As the reference: clamp to [-2, size + 1] (max returns its second operand for NaN, so NaN
// becomes -2), floor, and test each neighbour against the image.
Footprint footprint(__m256 sx, __m256 sy, std::size_t height, std::size_t width, __m256i lanes) {
  const __m256 low = _mm256_set1_ps(-2.0f);
  sx = _mm256_min_ps(_mm256_max_ps(sx, low), _mm256_set1_ps(static_cast<float>(width) + 1.0f));
  sy = _mm256_min_ps(_mm256_max_ps(sy, low), _mm256_set1_ps(static_cast<float>(height) + 1.0f));
  const __m256 floor_x = _mm256_floor_ps(sx), floor_y = _mm256_floor_ps(sy);
  const __m256i x0 = _mm256_cvttps_epi32(floor_x), y0 = _mm256_cvttps_epi32(floor_y);
  const __m256i ones = _mm256_set1_epi32(1);
  const __m256i w = _mm256_set1_epi32(static_cast<int>(width));
  const __m256i h = _mm256_set1_epi32(static_cast<int>(height));
  const __m256 x0_in = inside(x0, w), x1_in = inside(_mm256_add_epi32(x0, ones), w);
  const __m256 live = _mm256_castsi256_ps(lanes);
  const __m256 y0_in = _mm256_and_ps(live, inside(y0, h));
  const __m256 y1_in = _mm256_and_ps(live, inside(_mm256_add_epi32(y0, ones), h));
  Footprint f;
  f.index00 = _mm256_add_epi32(_mm256_mullo_epi32(y0, w), x0);
  f.in00 = _mm256_and_ps(x0_in, y0_in);
  f.in01 = _mm256_and_ps(x1_in, y0_in);
  f.in10 = _mm256_and_ps(x0_in, y1_in);
  f.in11 = _mm256_and_ps(x1_in, y1_in);
  f.fx = _mm256_sub_ps(sx, floor_x);
  f.fy = _mm256_sub_ps(sy, floor_y);
  return f;
}

__m256 bilinear(const float* plane, const Footprint& f, std::size_t width, __m256 fill) {
  const __m256i right = _mm256_set1_epi32(1);
  const __m256i below = _mm256_set1_epi32(static_cast<int>(width));
  const __m256i index01 = _mm256_add_epi32(f.index00, right);
  const __m256i index10 = _mm256_add_epi32(f.index00, below);
  const __m256i index11 = _mm256_add_epi32(index10, right);
  const __m256 v00 = _mm256_mask_i32gather_ps(fill, plane, f.index00, f.in00, 4);
  const __m256 v01 = _mm256_mask_i32gather_ps(fill, plane, index01, f.in01, 4);
  const __m256 v10 = _mm256_mask_i32gather_ps(fill, plane, index10, f.in10, 4);
  const __m256 v11 = _mm256_mask_i32gather_ps(fill, plane, index11, f.in11, 4);
  const __m256 top = _mm256_fmadd_ps(f.fx, _mm256_sub_ps(v01, v00), v00);
  const __m256 bottom = _mm256_fmadd_ps(f.fx, _mm256_sub_ps(v11, v10), v10);
  return _mm256_fmadd_ps(f.fy, _mm256_sub_ps(bottom, top), top);
}

void sample_all_channels(const float* src, float* dst, std::size_t channels, std::size_t height,
                         std::size_t width, std::size_t at, __m256 sx, __m256 sy, __m256i lanes,
                         float fill) {
  const std::size_t plane = height * width;
  const Footprint f = footprint(sx, sy, height, width, lanes);
  const __m256 fill_v = _mm256_set1_ps(fill);
  for (std::size_t c = 0; c < channels; ++c) {
    _mm256_maskstore_ps(dst + c * plane + at, lanes, bilinear(src + c * plane, f, width, fill_v));
  }
}

void affine_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                 std::size_t width, const float* inverse, float fill) {
  const __m256 offsets = lane_offsets();
  const __m256 m0 = _mm256_set1_ps(inverse[0]), m3 = _mm256_set1_ps(inverse[3]);
  for (std::size_t y = 0; y < height; ++y) {
    const float fy = static_cast<float>(y);
    const __m256 row_x = _mm256_set1_ps(inverse[1] * fy + inverse[2]);
    const __m256 row_y = _mm256_set1_ps(inverse[4] * fy + inverse[5]);
    for (std::size_t x = 0; x < width; x += kLanes) {
      const __m256 xs = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x)), offsets);
      sample_all_channels(src, dst, channels, height, width, y * width + x,
                          _mm256_fmadd_ps(m0, xs, row_x), _mm256_fmadd_ps(m3, xs, row_y),
                          first_lanes(width - x), fill);
    }
  }
}

void displacement_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                       std::size_t width, const float* dx, const float* dy, float fill) {
  const __m256 offsets = lane_offsets();
  for (std::size_t y = 0; y < height; ++y) {
    const __m256 ys = _mm256_set1_ps(static_cast<float>(y));
    for (std::size_t x = 0; x < width; x += kLanes) {
      const std::size_t at = y * width + x;
      const __m256i lanes = first_lanes(width - x);
      const __m256 xs = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x)), offsets);
      const __m256 sx = _mm256_add_ps(xs, _mm256_maskload_ps(dx + at, lanes));
      const __m256 sy = _mm256_add_ps(ys, _mm256_maskload_ps(dy + at, lanes));
      sample_all_channels(src, dst, channels, height, width, at, sx, sy, lanes, fill);
    }
  }
}

// out[x] = sum_k taps[k] in[x + k * step] for x in [0, n).
void correlate(const float* in, std::size_t step, float* out, std::size_t n, const float* taps,
               std::size_t taps_count) {
  for (std::size_t x = 0; x < n; x += kLanes) {
    const __m256i lanes = first_lanes(n - x);
    __m256 sum = _mm256_setzero_ps();
    for (std::size_t k = 0; k < taps_count; ++k) {
      sum = _mm256_fmadd_ps(_mm256_set1_ps(taps[k]), _mm256_maskload_ps(in + x + k * step, lanes),
                            sum);
    }
    _mm256_maskstore_ps(out + x, lanes, sum);
  }
}

void zero(float* p, std::size_t n) {
  for (std::size_t i = 0; i < n; i += kLanes) {
    _mm256_maskstore_ps(p + i, first_lanes(n - i), _mm256_setzero_ps());
  }
}

void copy(const float* from, float* to, std::size_t n) {
  for (std::size_t i = 0; i < n; i += kLanes) {
    const __m256i lanes = first_lanes(n - i);
    _mm256_maskstore_ps(to + i, lanes, _mm256_maskload_ps(from + i, lanes));
  }
}

void gaussian_blur(float* field, std::size_t height, std::size_t width, const float* taps,
                   std::size_t radius, float* scratch) {
  const std::size_t taps_count = 2 * radius + 1;
  const std::size_t row_stride = width + 2 * radius;
  float* rows = scratch;
  float* columns = scratch + height * row_stride;
  zero(scratch, height * row_stride + (height + 2 * radius) * width);
  for (std::size_t y = 0; y < height; ++y) {
    copy(field + y * width, rows + y * row_stride + radius, width);
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate(rows + y * row_stride, 1, columns + (y + radius) * width, width, taps, taps_count);
  }
  for (std::size_t y = 0; y < height; ++y) {
    correlate(columns + y * width, width, field + y * width, width, taps, taps_count);
  }
}

// The high halves of the 32 x 32-bit products a[i] m[i]: even lanes from one widening multiply,
// odd lanes from another after shifting them down.
__m256i mulhi_epu32(__m256i a, __m256i m) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Philox4x32-10 of eight counters at once, c[w] holding word w of each.
void philox4x32_10_x8(__m256i c[4], std::uint32_t k0, std::uint32_t k1) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxMultiplier0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxMultiplier1));
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    const __m256i hi0 = mulhi_epu32(c[0], m0), lo0 = _mm256_mullo_epi32(c[0], m0);
    const __m256i hi1 = mulhi_epu32(c[2], m1), lo1 = _mm256_mullo_epi32(c[2], m1);
    c[0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[1]), _mm256_set1_epi32(static_cast<int>(k0)));
    c[1] = lo1;
    c[2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), _mm256_set1_epi32(static_cast<int>(k1)));
    c[3] = lo0;
  }
}

// 2 u - 1 with u = (w >> 8) / 2^24: every step is exact, so the bits match the reference.
__m256 signed_unit(__m256i w) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 8)),
                         _mm256_set1_ps(1.0f / 8388608.0f), _mm256_set1_ps(-1.0f));
}

// Block j's four words to out[4 j .. 4 j + 3]: a 4 x 4 transpose inside each 128-bit lane, after
// which lane k of r[j] holds block 4 k + j.
void store_interleaved(float* out, const __m256 f[4]) {
  const __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(f[0], f[1]));
  const __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(f[0], f[1]));
  const __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(f[2], f[3]));
  const __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(f[2], f[3]));
  const __m256 r[4] = {
      _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)), _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2)),
      _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)), _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3))};
  for (int j = 0; j < 4; ++j) {
    _mm_storeu_ps(out + 4 * j, _mm256_castps256_ps128(r[j]));
    _mm_storeu_ps(out + 16 + 4 * j, _mm256_extractf128_ps(r[j], 1));
  }
}

void uniform_field(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                   std::uint32_t epoch, float* out, std::size_t count) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  constexpr std::size_t kValues = 4 * kLanes;
  for (std::size_t i = 0; i < count; i += kValues) {
    __m256i c[4] = {_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i / 4)), lanes),
                    _mm256_set1_epi32(static_cast<int>(stream)),
                    _mm256_set1_epi32(static_cast<int>(index)),
                    _mm256_set1_epi32(static_cast<int>(epoch))};
    philox4x32_10_x8(c, key[0], key[1]);
    const __m256 f[4] = {signed_unit(c[0]), signed_unit(c[1]), signed_unit(c[2]),
                         signed_unit(c[3])};
    if (i + kValues <= count) {
      store_interleaved(out + i, f);
    } else {
      float tail[kValues];
      store_interleaved(tail, f);
      for (std::size_t k = 0; i + k < count; ++k) out[i + k] = tail[k];
    }
  }
}

// A division costs several multiplies: q = v (1/255), then one FMA step on the exact residual
// v - 255 q gives the correctly rounded quotient for every byte (the tests check all 256).
void bytes_to_unit_floats(const std::uint8_t* src, float* dst, std::size_t count) {
  const __m256 k255 = _mm256_set1_ps(255.0f), inverse = _mm256_set1_ps(1.0f / 255.0f);
  std::size_t k = 0;
  for (; k + kLanes <= count; k += kLanes) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + k));
    const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    const __m256 q = _mm256_mul_ps(v, inverse);
    _mm256_storeu_ps(dst + k, _mm256_fmadd_ps(_mm256_fnmadd_ps(q, k255, v), inverse, q));
  }
  for (; k < count; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
}

}  // namespace

const AugmentKernels kAugment{affine_warp, displacement_warp, gaussian_blur, uniform_field,
                              bytes_to_unit_floats};

}  // namespace odyssey::avx2
