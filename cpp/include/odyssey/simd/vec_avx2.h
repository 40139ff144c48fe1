// The AVX2+FMA lane type behind the generic SIMD kernels (odyssey/simd/*.h). Included only by
// translation units compiled with -mavx2 -mfma; every name lives in odyssey::avx2, so nothing here
// can be shared through the linker with code built for another ISA.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace odyssey::avx2 {

struct Vec {
  using T = __m256;
  using I = __m256i;     // kLanes 32-bit integers
  using Mask = __m256i;  // all ones in the lanes that are on
  static constexpr std::size_t kLanes = 8;

  static __m256i first(std::size_t n) {  // n <= kLanes: all ones in lanes below n
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  // The first n < kLanes lanes; the others read as zero and are never touched in memory.
  static T load_first(const float* p, std::size_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_first(float* p, T v, std::size_t n) { _mm256_maskstore_ps(p, first(n), v); }
  static T keep_first(T v, std::size_t n) {
    return _mm256_and_ps(v, _mm256_castsi256_ps(first(n)));
  }
  // The kLanes lanes of the concatenation [a b] from lane kLanes - s on (s < kLanes): the last s
  // lanes of a, then the first kLanes - s of b. Moves values between lanes without changing them.
  static T shift_in(T a, T b, std::size_t s) {
    // Both rotated right by s lanes; lanes below s come from a.
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i index = _mm256_sub_epi32(lane, _mm256_set1_epi32(static_cast<int>(s)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(b, index), _mm256_permutevar8x32_ps(a, index),
                            _mm256_castsi256_ps(first(s)));
  }

  static T set1(float x) { return _mm256_set1_ps(x); }
  static T zero() { return _mm256_setzero_ps(); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T sqrt(T a) { return _mm256_sqrt_ps(a); }
  // a * b + c and c - a * b with one rounding.
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }
  // Return b when either operand is NaN, so min(constant, x) keeps a NaN x.
  static T min(T a, T b) { return _mm256_min_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  // 0 > a ? 0 : a, the reference ReLU: NaN passes through and -0.0 stays -0.0.
  // max returns its second operand for NaN and for two zeros.
  static T relu(T a) { return _mm256_max_ps(_mm256_setzero_ps(), a); }
  // Ordered compares: false when either operand is NaN.
  static T select_gt(T a, T b, T if_true, T if_false) {
    return _mm256_blendv_ps(if_false, if_true, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
  }
  static T select_lt(T a, T b, T if_true, T if_false) {
    return _mm256_blendv_ps(if_false, if_true, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static T select_le(T a, T b, T if_true, T if_false) {
    return _mm256_blendv_ps(if_false, if_true, _mm256_cmp_ps(a, b, _CMP_LE_OQ));
  }
  static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  // The magnitude of `magnitude` with the sign of `sign`.
  static T copysign(T magnitude, T sign) {
    const T sign_bit = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
  }
  static T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static T pow2(T n) {
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
  }
  // Horizontal reductions in a fixed lane order.
  static double sum(T v) {
    const __m256d wide = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
                                       _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(wide), _mm256_extractf128_pd(wide, 1));
    return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
  }
  static float max_lanes(T v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }

  // Masks select lanes. Masked loads, stores and gathers never touch the memory of a lane that
  // is off.

  // Lanes below n; every lane when n >= kLanes.
  static Mask mask_first(std::size_t n) { return first(n < kLanes ? n : kLanes); }
  static Mask mask_and(Mask a, Mask b) { return _mm256_and_si256(a, b); }
  // Off lanes read as zero.
  static T load_mask(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_mask(float* p, T v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  // Lane i: base[index_i] where the mask is on, else fill_i.
  static T gather(const float* base, I index, Mask m, T fill) {
    return _mm256_mask_i32gather_ps(fill, base, index, _mm256_castsi256_ps(m), 4);
  }

  // Conversions.
  static T iota() { return _mm256_setr_ps(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f); }
  static T floor(T a) { return _mm256_floor_ps(a); }
  // Towards zero; exact for integral a in the int32 range.
  static I to_int(T a) { return _mm256_cvttps_epi32(a); }
  static T to_float(I a) { return _mm256_cvtepi32_ps(a); }
  // min(max(v, low), high), and low for a NaN v (max returns its second operand for NaN).
  static T clamp(T v, T low, T high) { return _mm256_min_ps(_mm256_max_ps(v, low), high); }
  // The bytes p[0 .. kLanes - 1] as floats in [0, 255].
  static T load_bytes(const std::uint8_t* p) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
  }
  // out[4 j + w] = v[w] lane j for j < kLanes: four vectors interleaved into 4 kLanes floats, a
  // 4 x 4 transpose inside each 128-bit half, after which half k of r[j] holds out[16 k + 4 j ..].
  static void store_interleaved4(float* out, const T v[4]) {
    const __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(v[0], v[1]));
    const __m256d t1 = _mm256_castps_pd(_mm256_unpackhi_ps(v[0], v[1]));
    const __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(v[2], v[3]));
    const __m256d t3 = _mm256_castps_pd(_mm256_unpackhi_ps(v[2], v[3]));
    const __m256 r[4] = {
        _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)), _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2)),
        _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)), _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3))};
    for (int j = 0; j < 4; ++j) {
      _mm_storeu_ps(out + 4 * j, _mm256_castps256_ps128(r[j]));
      _mm_storeu_ps(out + 16 + 4 * j, _mm256_extractf128_ps(r[j], 1));
    }
  }

  // 32-bit integer lanes; arithmetic wraps modulo 2^32.
  static I iset1(std::uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
  static I iiota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I imul(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I ixor(I a, I b) { return _mm256_xor_si256(a, b); }
  template <int kBits>
  static I shift_right(I a) {  // logical
    return _mm256_srli_epi32(a, kBits);
  }
  // The high and low halves of the unsigned 64-bit products a_i b_i: the even lanes from one
  // widening multiply, the odd lanes from another after shifting them down.
  static void mul_wide(I a, I b, I& high, I& low) {
    const __m256i even = _mm256_mul_epu32(a, b);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
    high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    low = _mm256_mullo_epi32(a, b);
  }
  // 0 <= v < size, signed.
  static Mask in_range(I v, I size) {
    return _mm256_and_si256(_mm256_cmpgt_epi32(v, _mm256_set1_epi32(-1)),
                            _mm256_cmpgt_epi32(size, v));
  }

  // Double lanes for reductions carried in double: a float vector widens into two halves.
  using D = __m256d;
  static D zero_d() { return _mm256_setzero_pd(); }
  static D set1_d(double x) { return _mm256_set1_pd(x); }
  static D low_d(T v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static D high_d(T v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static D add_d(D a, D b) { return _mm256_add_pd(a, b); }
  static D sub_d(D a, D b) { return _mm256_sub_pd(a, b); }
  static D fmadd_d(D a, D b, D c) { return _mm256_fmadd_pd(a, b, c); }
  static D load_d(const double* p) { return _mm256_loadu_pd(p); }
  static void store_d(double* p, D v) { _mm256_storeu_pd(p, v); }

  // The lanes summed in float in a fixed order (halves, then pairs, then the last two): the conv
  // kernels' horizontal sum, whose bits their results keep.
  static float sum_float(T v) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
  }
  // r[i] becomes column i of the kLanes x kLanes block whose rows were r[0 .. kLanes): an 8 x 8
  // transpose in registers (pairs, quads, then 128-bit halves).
  static void transpose_lanes(T (&r)[kLanes]) {
    T t[kLanes];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    // r[4i + j], 128-bit half k: column 4k + j of rows 4i .. 4i+3.
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    // Each step reads and writes the same two rows, so no copy of the block is needed.
    for (int j = 0; j < 4; ++j) {
      const T low = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
      r[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
      r[j] = low;
    }
  }

  // Compares give masks: ordered (false when either operand is NaN), and NaN lanes.
  static Mask cmp_gt(T a, T b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static Mask cmp_le(T a, T b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LE_OQ)); }
  static Mask is_nan(T a) { return _mm256_castps_si256(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }
  static Mask ieq(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static Mask mask_or(Mask a, Mask b) { return _mm256_or_si256(a, b); }
  // Lane by lane: if_true where the mask is on, else if_false; keep_mask gives +0 where it is off.
  static T select(Mask m, T if_true, T if_false) {
    return _mm256_blendv_ps(if_false, if_true, _mm256_castsi256_ps(m));
  }
  static I iselect(Mask m, I if_true, I if_false) {
    return _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(if_false), _mm256_castsi256_ps(if_true), _mm256_castsi256_ps(m)));
  }
  static T keep_mask(T v, Mask m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }
  // 32-bit integer loads and stores; masked ones as load_mask and store_mask.
  static I iload(const std::int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void istore(std::int32_t* p, I v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static I iload_mask(const std::int32_t* p, Mask m) {
    return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), m);
  }
  static void istore_mask(std::int32_t* p, I v, Mask m) {
    _mm256_maskstore_epi32(reinterpret_cast<int*>(p), m, v);
  }
  // The even and the odd lanes of the concatenation [a b], in order: within each 128-bit half,
  // a's then b's even (odd) lanes; the 64-bit permute restores the order.
  static void deinterleave(T a, T b, T& even, T& odd) {
    even = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // deinterleave of p[0 .. 2 kLanes).
  static void load_deinterleave(const float* p, T& even, T& odd) {
    deinterleave(_mm256_loadu_ps(p), _mm256_loadu_ps(p + kLanes), even, odd);
  }
  // Each lane twice, in order: low = v0 v0 v1 v1 ..., high = the upper half's lanes likewise.
  static void duplicate_lanes(T v, T& low, T& high) {
    low = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    high = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
  }
  static void iduplicate_lanes(I v, I& low, I& high) {
    low = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    high = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7));
  }
};

}  // namespace odyssey::avx2
