// AVX-512F variant, compiled with -mavx512f: sixteen output pixels of a row at a time, their four
// neighbours fetched with masked gathers (a masked-off lane reads fill, never memory). Includes no
// standard-library header that could emit inline functions compiled for AVX-512.
#include <immintrin.h>

#include <cstdint>

#include "odyssey/augment.h"
#include "odyssey/philox.h"

namespace odyssey::avx512 {
namespace {

constexpr std::size_t kLanes = 16;

__mmask16 first_lanes(std::size_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << count) - 1u);
}

__m512 lane_offsets() {
  return _mm512_set_ps(15.0f, 14.0f, 13.0f, 12.0f, 11.0f, 10.0f, 9.0f, 8.0f, 7.0f, 6.0f, 5.0f, 4.0f,
                       3.0f, 2.0f, 1.0f, 0.0f);
}

// Gather indices, lane masks and weights of sixteen source points, shared by every channel.
struct Footprint {
  __m512i index00;
  __mmask16 in00, in01, in10, in11;
  __m512 fx, fy;
};

// As the reference: clamp to [-2, size + 1] (NaN becomes -2), floor, and test each neighbour
// against the image with one unsigned compare (negative indices wrap to huge values).
Footprint footprint(__m512 sx, __m512 sy, std::size_t height, std::size_t width, __mmask16 lanes) {
  const __m512 width_f = _mm512_set1_ps(static_cast<float>(width));
  const __m512 height_f = _mm512_set1_ps(static_cast<float>(height));
  const __m512 low = _mm512_set1_ps(-2.0f), one = _mm512_set1_ps(1.0f);
  sx = _mm512_min_ps(_mm512_max_ps(sx, low), _mm512_add_ps(width_f, one));
  sy = _mm512_min_ps(_mm512_max_ps(sy, low), _mm512_add_ps(height_f, one));
  const __m512 floor_x = _mm512_roundscale_ps(sx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 floor_y = _mm512_roundscale_ps(sy, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512i x0 = _mm512_cvttps_epi32(floor_x), y0 = _mm512_cvttps_epi32(floor_y);
  const __m512i ones = _mm512_set1_epi32(1);
  const __m512i w = _mm512_set1_epi32(static_cast<int>(width));
  const __m512i h = _mm512_set1_epi32(static_cast<int>(height));
  const __mmask16 x0_in = _mm512_cmplt_epu32_mask(x0, w);
  const __mmask16 x1_in = _mm512_cmplt_epu32_mask(_mm512_add_epi32(x0, ones), w);
  const __mmask16 y0_in = _mm512_mask_cmplt_epu32_mask(lanes, y0, h);
  const __mmask16 y1_in = _mm512_mask_cmplt_epu32_mask(lanes, _mm512_add_epi32(y0, ones), h);
  Footprint f;
  f.index00 = _mm512_add_epi32(_mm512_mullo_epi32(y0, w), x0);
  f.in00 = x0_in & y0_in;
  f.in01 = x1_in & y0_in;
  f.in10 = x0_in & y1_in;
  f.in11 = x1_in & y1_in;
  f.fx = _mm512_sub_ps(sx, floor_x);
  f.fy = _mm512_sub_ps(sy, floor_y);
  return f;
}

__m512 bilinear(const float* plane, const Footprint& f, std::size_t width, __m512 fill) {
  const __m512i right = _mm512_set1_epi32(1);
  const __m512i below = _mm512_set1_epi32(static_cast<int>(width));
  const __m512i index01 = _mm512_add_epi32(f.index00, right);
  const __m512i index10 = _mm512_add_epi32(f.index00, below);
  const __m512i index11 = _mm512_add_epi32(index10, right);
  const __m512 v00 = _mm512_mask_i32gather_ps(fill, f.in00, f.index00, plane, 4);
  const __m512 v01 = _mm512_mask_i32gather_ps(fill, f.in01, index01, plane, 4);
  const __m512 v10 = _mm512_mask_i32gather_ps(fill, f.in10, index10, plane, 4);
  const __m512 v11 = _mm512_mask_i32gather_ps(fill, f.in11, index11, plane, 4);
  const __m512 top = _mm512_fmadd_ps(f.fx, _mm512_sub_ps(v01, v00), v00);
  const __m512 bottom = _mm512_fmadd_ps(f.fx, _mm512_sub_ps(v11, v10), v10);
  return _mm512_fmadd_ps(f.fy, _mm512_sub_ps(bottom, top), top);
}

void sample_all_channels(const float* src, float* dst, std::size_t channels, std::size_t height,
                         std::size_t width, std::size_t at, __m512 sx, __m512 sy, __mmask16 lanes,
                         float fill) {
  const std::size_t plane = height * width;
  const Footprint f = footprint(sx, sy, height, width, lanes);
  const __m512 fill_v = _mm512_set1_ps(fill);
  for (std::size_t c = 0; c < channels; ++c) {
    _mm512_mask_storeu_ps(dst + c * plane + at, lanes, bilinear(src + c * plane, f, width, fill_v));
  }
}

void affine_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                 std::size_t width, const float* inverse, float fill) {
  const __m512 offsets = lane_offsets();
  const __m512 m0 = _mm512_set1_ps(inverse[0]), m3 = _mm512_set1_ps(inverse[3]);
  for (std::size_t y = 0; y < height; ++y) {
    const float fy = static_cast<float>(y);
    const __m512 row_x = _mm512_set1_ps(inverse[1] * fy + inverse[2]);
    const __m512 row_y = _mm512_set1_ps(inverse[4] * fy + inverse[5]);
    for (std::size_t x = 0; x < width; x += kLanes) {
      const __m512 xs = _mm512_add_ps(_mm512_set1_ps(static_cast<float>(x)), offsets);
      sample_all_channels(src, dst, channels, height, width, y * width + x,
                          _mm512_fmadd_ps(m0, xs, row_x), _mm512_fmadd_ps(m3, xs, row_y),
                          first_lanes(width - x), fill);
    }
  }
}

void displacement_warp(const float* src, float* dst, std::size_t channels, std::size_t height,
                       std::size_t width, const float* dx, const float* dy, float fill) {
  const __m512 offsets = lane_offsets();
  for (std::size_t y = 0; y < height; ++y) {
    const __m512 ys = _mm512_set1_ps(static_cast<float>(y));
    for (std::size_t x = 0; x < width; x += kLanes) {
      const std::size_t at = y * width + x;
      const __mmask16 lanes = first_lanes(width - x);
      const __m512 xs = _mm512_add_ps(_mm512_set1_ps(static_cast<float>(x)), offsets);
      const __m512 sx = _mm512_add_ps(xs, _mm512_maskz_loadu_ps(lanes, dx + at));
      const __m512 sy = _mm512_add_ps(ys, _mm512_maskz_loadu_ps(lanes, dy + at));
      sample_all_channels(src, dst, channels, height, width, at, sx, sy, lanes, fill);
    }
  }
}

// out[x] = sum_k taps[k] in[x + k * step] for x in [0, n), n floats of out.
void correlate(const float* in, std::size_t step, float* out, std::size_t n, const float* taps,
               std::size_t taps_count) {
  for (std::size_t x = 0; x < n; x += kLanes) {
    const __mmask16 lanes = first_lanes(n - x);
    __m512 sum = _mm512_setzero_ps();
    for (std::size_t k = 0; k < taps_count; ++k) {
      sum = _mm512_fmadd_ps(_mm512_set1_ps(taps[k]),
                            _mm512_maskz_loadu_ps(lanes, in + x + k * step), sum);
    }
    _mm512_mask_storeu_ps(out + x, lanes, sum);
  }
}

void zero(float* p, std::size_t n) {
  for (std::size_t i = 0; i < n; i += kLanes) {
    _mm512_mask_storeu_ps(p + i, first_lanes(n - i), _mm512_setzero_ps());
  }
}

void copy(const float* from, float* to, std::size_t n) {
  for (std::size_t i = 0; i < n; i += kLanes) {
    const __mmask16 lanes = first_lanes(n - i);
    _mm512_mask_storeu_ps(to + i, lanes, _mm512_maskz_loadu_ps(lanes, from + i));
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
__m512i mulhi_epu32(__m512i a, __m512i m) {
  const __m512i even = _mm512_mul_epu32(a, m);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// Philox4x32-10 of sixteen counters at once, c[w] holding word w of each.
void philox4x32_10_x16(__m512i c[4], std::uint32_t k0, std::uint32_t k1) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxMultiplier0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxMultiplier1));
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxWeyl0;
      k1 += kPhiloxWeyl1;
    }
    const __m512i hi0 = mulhi_epu32(c[0], m0), lo0 = _mm512_mullo_epi32(c[0], m0);
    const __m512i hi1 = mulhi_epu32(c[2], m1), lo1 = _mm512_mullo_epi32(c[2], m1);
    c[0] = _mm512_xor_si512(_mm512_xor_si512(hi1, c[1]), _mm512_set1_epi32(static_cast<int>(k0)));
    c[1] = lo1;
    c[2] = _mm512_xor_si512(_mm512_xor_si512(hi0, c[3]), _mm512_set1_epi32(static_cast<int>(k1)));
    c[3] = lo0;
  }
}

// 2 u - 1 with u = (w >> 8) / 2^24: every step is exact, so the bits match the reference.
__m512 signed_unit(__m512i w) {
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 8)),
                         _mm512_set1_ps(1.0f / 8388608.0f), _mm512_set1_ps(-1.0f));
}

// Block j's four words to out[4 j .. 4 j + 3]: a 4 x 4 transpose inside each 128-bit lane, after
// which lane k of r[j] holds block 4 k + j.
template <int kLane>
void store_lane(float* out, const __m512 r[4]) {
  for (int j = 0; j < 4; ++j)
    _mm_storeu_ps(out + 16 * kLane + 4 * j, _mm512_extractf32x4_ps(r[j], kLane));
}

void store_interleaved(float* out, const __m512 f[4]) {
  const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(f[0], f[1]));
  const __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(f[0], f[1]));
  const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(f[2], f[3]));
  const __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(f[2], f[3]));
  const __m512 r[4] = {
      _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)), _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)),
      _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)), _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3))};
  store_lane<0>(out, r);
  store_lane<1>(out, r);
  store_lane<2>(out, r);
  store_lane<3>(out, r);
}

void uniform_field(const std::uint32_t key[2], std::uint32_t stream, std::uint32_t index,
                   std::uint32_t epoch, float* out, std::size_t count) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  constexpr std::size_t kValues = 4 * kLanes;
  for (std::size_t i = 0; i < count; i += kValues) {
    __m512i c[4] = {_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(i / 4)), lanes),
                    _mm512_set1_epi32(static_cast<int>(stream)),
                    _mm512_set1_epi32(static_cast<int>(index)),
                    _mm512_set1_epi32(static_cast<int>(epoch))};
    philox4x32_10_x16(c, key[0], key[1]);
    const __m512 f[4] = {signed_unit(c[0]), signed_unit(c[1]), signed_unit(c[2]),
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

// A division costs ten times a multiply: q = v (1/255), then one FMA step on the exact residual
// v - 255 q gives the correctly rounded quotient for every byte (the tests check all 256).
void bytes_to_unit_floats(const std::uint8_t* src, float* dst, std::size_t count) {
  const __m512 k255 = _mm512_set1_ps(255.0f), inverse = _mm512_set1_ps(1.0f / 255.0f);
  std::size_t k = 0;
  for (; k + kLanes <= count; k += kLanes) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k));
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
    const __m512 q = _mm512_mul_ps(v, inverse);
    _mm512_storeu_ps(dst + k, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, k255, v), inverse, q));
  }
  for (; k < count; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
}

}  // namespace

const AugmentKernels kAugment{affine_warp, displacement_warp, gaussian_blur, uniform_field,
                              bytes_to_unit_floats};

}  // namespace odyssey::avx512
