// The AVX-512F lane type behind the generic SIMD kernels (odyssey/simd/*.h). Included only by
// translation units compiled with -mavx512f; every name lives in odyssey::avx512, so nothing here
// can be shared through the linker with code built for another ISA.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace odyssey::avx512 {

struct Vec {
  using T = __m512;
  using I = __m512i;       // kLanes 32-bit integers
  using Mask = __mmask16;  // bit i set when lane i is on
  static constexpr std::size_t kLanes = 16;

  static __mmask16 first(std::size_t n) {  // n < kLanes
    return static_cast<__mmask16>((1u << n) - 1u);
  }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  // The first n < kLanes lanes; the others read as zero and are never touched in memory.
  static T load_first(const float* p, std::size_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, T v, std::size_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static T keep_first(T v, std::size_t n) { return _mm512_maskz_mov_ps(first(n), v); }
  // The kLanes lanes of the concatenation [a b] from lane kLanes - s on (s < kLanes): the last s
  // lanes of a, then the first kLanes - s of b. Moves values between lanes without changing them.
  static T shift_in(T a, T b, std::size_t s) {
    // Indices 0-15 pick from a, 16-31 from b.
    const __m512i index =
        _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(kLanes - s)),
                         _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    return _mm512_permutex2var_ps(a, index, b);
  }

  static T set1(float x) { return _mm512_set1_ps(x); }
  static T zero() { return _mm512_setzero_ps(); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T sqrt(T a) { return _mm512_sqrt_ps(a); }
  // a * b + c and c - a * b with one rounding.
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T fnmadd(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }
  // Return b when either operand is NaN, so min(constant, x) keeps a NaN x.
  static T min(T a, T b) { return _mm512_min_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  // 0 > a ? 0 : a, the reference ReLU: NaN passes through and -0.0 stays -0.0.
  // max returns its second operand for NaN and for two zeros.
  static T relu(T a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }
  // Ordered compares: false when either operand is NaN.
  static T select_gt(T a, T b, T if_true, T if_false) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), if_false, if_true);
  }
  static T select_lt(T a, T b, T if_true, T if_false) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), if_false, if_true);
  }
  static T select_le(T a, T b, T if_true, T if_false) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LE_OQ), if_false, if_true);
  }
  static T abs(T a) {
    return _mm512_castsi512_ps(
        _mm512_and_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff)));
  }
  // The magnitude of `magnitude` with the sign of `sign`.
  static T copysign(T magnitude, T sign) {
    const __m512i sign_bit = _mm512_set1_epi32(static_cast<std::int32_t>(0x80000000u));
    return _mm512_castsi512_ps(
        _mm512_or_epi32(_mm512_andnot_epi32(sign_bit, _mm512_castps_si512(magnitude)),
                        _mm512_and_epi32(sign_bit, _mm512_castps_si512(sign))));
  }
  static T round(T a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static T pow2(T n) {
    const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
  }
  // Horizontal reductions in a fixed lane order.
  static double sum(T v) {
    const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm512_reduce_add_pd(
        _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), _mm512_cvtps_pd(high)));
  }
  static float max_lanes(T v) { return _mm512_reduce_max_ps(v); }

  // Masks select lanes. Masked loads, stores and gathers never touch the memory of a lane that
  // is off.

  // Lanes below n; every lane when n >= kLanes.
  static Mask mask_first(std::size_t n) {
    return n >= kLanes ? static_cast<Mask>(0xFFFF) : first(n);
  }
  static Mask mask_and(Mask a, Mask b) { return static_cast<Mask>(a & b); }
  // Off lanes read as zero.
  static T load_mask(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_mask(float* p, T v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  // Lane i: base[index_i] where the mask is on, else fill_i.
  static T gather(const float* base, I index, Mask m, T fill) {
    return _mm512_mask_i32gather_ps(fill, m, index, base, 4);
  }

  // Conversions.
  static T iota() {
    return _mm512_setr_ps(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f,
                          12.0f, 13.0f, 14.0f, 15.0f);
  }
  static T floor(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  // Towards zero; exact for integral a in the int32 range.
  static I to_int(T a) { return _mm512_cvttps_epi32(a); }
  static T to_float(I a) { return _mm512_cvtepi32_ps(a); }
  // min(max(v, low), high), and low for a NaN v (max returns its second operand for NaN).
  static T clamp(T v, T low, T high) { return _mm512_min_ps(_mm512_max_ps(v, low), high); }
  // The bytes p[0 .. kLanes - 1] as floats in [0, 255].
  static T load_bytes(const std::uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
  }
  // out[4 j + w] = v[w] lane j for j < kLanes: four vectors interleaved into 4 kLanes floats, a
  // 4 x 4 transpose inside each 128-bit quarter, after which quarter k of r[j] holds
  // out[16 k + 4 j ..].
  static void store_interleaved4(float* out, const T v[4]) {
    const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(v[0], v[1]));
    const __m512d t1 = _mm512_castps_pd(_mm512_unpackhi_ps(v[0], v[1]));
    const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(v[2], v[3]));
    const __m512d t3 = _mm512_castps_pd(_mm512_unpackhi_ps(v[2], v[3]));
    const __m512 r[4] = {
        _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)), _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)),
        _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)), _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3))};
    store_quarter<0>(out, r);
    store_quarter<1>(out, r);
    store_quarter<2>(out, r);
    store_quarter<3>(out, r);
  }
  template <int kQuarter>
  static void store_quarter(float* out, const T r[4]) {
    for (int j = 0; j < 4; ++j) {
      _mm_storeu_ps(out + 16 * kQuarter + 4 * j, _mm512_extractf32x4_ps(r[j], kQuarter));
    }
  }

  // 32-bit integer lanes; arithmetic wraps modulo 2^32.
  static I iset1(std::uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  static I iiota() {
    return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I imul(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I ixor(I a, I b) { return _mm512_xor_si512(a, b); }
  template <int kBits>
  static I shift_right(I a) {  // logical
    return _mm512_srli_epi32(a, kBits);
  }
  // The high and low halves of the unsigned 64-bit products a_i b_i: the even lanes from one
  // widening multiply, the odd lanes from another after shifting them down.
  static void mul_wide(I a, I b, I& high, I& low) {
    const __m512i even = _mm512_mul_epu32(a, b);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32));
    high = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    low = _mm512_mullo_epi32(a, b);
  }
  // 0 <= v < size: one unsigned compare, negative v wrapping to huge values (size < 2^31).
  static Mask in_range(I v, I size) { return _mm512_cmplt_epu32_mask(v, size); }

  // Double lanes for reductions carried in double: a float vector widens into two halves.
  using D = __m512d;
  static D zero_d() { return _mm512_setzero_pd(); }
  static D set1_d(double x) { return _mm512_set1_pd(x); }
  static D low_d(T v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static D high_d(T v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  }
  static D add_d(D a, D b) { return _mm512_add_pd(a, b); }
  static D sub_d(D a, D b) { return _mm512_sub_pd(a, b); }
  static D fmadd_d(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
  static D load_d(const double* p) { return _mm512_loadu_pd(p); }
  static void store_d(double* p, D v) { _mm512_storeu_pd(p, v); }

  // The lanes summed in float in a fixed order (_mm512_reduce_add_ps's tree): the conv kernels'
  // horizontal sum, whose bits their results keep.
  static float sum_float(T v) { return _mm512_reduce_add_ps(v); }
  // r[i] becomes column i of the kLanes x kLanes block whose rows were r[0 .. kLanes): a 16 x 16
  // transpose in registers (pairs, quads, then 128-bit blocks).
  static void transpose_lanes(T (&r)[kLanes]) {
    T t[kLanes];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // r[4i + j], 128-bit block k: column 4k + j of rows 4i .. 4i+3.
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      const T even_low = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
      const T even_high = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
      const T odd_low = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
      const T odd_high = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
      // Step j reads and writes rows j, 4 + j, 8 + j and 12 + j only: no copy of the block.
      r[j] = _mm512_shuffle_f32x4(even_low, even_high, 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(even_low, even_high, 0xDD);
      r[4 + j] = _mm512_shuffle_f32x4(odd_low, odd_high, 0x88);
      r[12 + j] = _mm512_shuffle_f32x4(odd_low, odd_high, 0xDD);
    }
  }

  // Compares give masks: ordered (false when either operand is NaN), and NaN lanes.
  static Mask cmp_gt(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static Mask cmp_le(T a, T b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static Mask is_nan(T a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static Mask ieq(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static Mask mask_or(Mask a, Mask b) { return static_cast<Mask>(a | b); }
  // Lane by lane: if_true where the mask is on, else if_false; keep_mask gives +0 where it is off.
  static T select(Mask m, T if_true, T if_false) {
    return _mm512_mask_mov_ps(if_false, m, if_true);
  }
  static I iselect(Mask m, I if_true, I if_false) {
    return _mm512_mask_mov_epi32(if_false, m, if_true);
  }
  static T keep_mask(T v, Mask m) { return _mm512_maskz_mov_ps(m, v); }
  // 32-bit integer loads and stores; masked ones as load_mask and store_mask.
  static I iload(const std::int32_t* p) { return _mm512_loadu_si512(p); }
  static void istore(std::int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static I iload_mask(const std::int32_t* p, Mask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static void istore_mask(std::int32_t* p, I v, Mask m) { _mm512_mask_storeu_epi32(p, m, v); }
  // The even and the odd lanes of the concatenation [a b], in order (two-source permutes).
  static void deinterleave(T a, T b, T& even, T& odd) {
    const __m512i even_lanes =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    even = _mm512_permutex2var_ps(a, even_lanes, b);
    odd = _mm512_permutex2var_ps(a, _mm512_add_epi32(even_lanes, _mm512_set1_epi32(1)), b);
  }
  // deinterleave of p[0 .. 2 kLanes).
  static void load_deinterleave(const float* p, T& even, T& odd) {
    deinterleave(_mm512_loadu_ps(p), _mm512_loadu_ps(p + kLanes), even, odd);
  }
  // Each lane twice, in order: low = v0 v0 v1 v1 ..., high = the upper half's lanes likewise.
  static void duplicate_lanes(T v, T& low, T& high) {
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    low = _mm512_permutexvar_ps(pairs, v);
    high = _mm512_permutexvar_ps(_mm512_add_epi32(pairs, _mm512_set1_epi32(8)), v);
  }
  static void iduplicate_lanes(I v, I& low, I& high) {
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    low = _mm512_permutexvar_epi32(pairs, v);
    high = _mm512_permutexvar_epi32(_mm512_add_epi32(pairs, _mm512_set1_epi32(8)), v);
  }
};

}  // namespace odyssey::avx512
