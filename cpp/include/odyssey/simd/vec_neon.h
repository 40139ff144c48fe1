// The NEON (AArch64 Advanced SIMD) lane type behind the generic SIMD kernels (odyssey/simd/*.h).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

namespace odyssey::neon {

struct Vec {
  using T = float32x4_t;
  using I = int32x4_t;      // kLanes 32-bit integers
  using Mask = uint32x4_t;  // all ones in the lanes that are on
  static constexpr std::size_t kLanes = 4;

  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  // The first n < kLanes lanes, through a zeroed stack copy: NEON has no masked loads and stores.
  static T load_first(const float* p, std::size_t n) {
    float lanes[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::size_t i = 0; i < n; ++i) lanes[i] = p[i];
    return vld1q_f32(lanes);
  }
  static void store_first(float* p, T v, std::size_t n) {
    float lanes[kLanes];
    vst1q_f32(lanes, v);
    for (std::size_t i = 0; i < n; ++i) p[i] = lanes[i];
  }
  static T keep_first(T v, std::size_t n) {
    const int32_t index[kLanes] = {0, 1, 2, 3};
    const uint32x4_t mask = vcltq_s32(vld1q_s32(index), vdupq_n_s32(static_cast<int32_t>(n)));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), mask));
  }
  // The kLanes lanes of the concatenation [a b] from lane kLanes - s on (s < kLanes): the last s
  // lanes of a, then the first kLanes - s of b. Moves values between lanes without changing them.
  static T shift_in(T a, T b, std::size_t s) {
    float lanes[2 * kLanes];
    vst1q_f32(lanes, a);
    vst1q_f32(lanes + kLanes, b);
    return vld1q_f32(lanes + kLanes - s);
  }

  static T set1(float x) { return vdupq_n_f32(x); }
  static T zero() { return vdupq_n_f32(0.0f); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T div(T a, T b) { return vdivq_f32(a, b); }
  static T sqrt(T a) { return vsqrtq_f32(a); }
  // a * b + c and c - a * b with one rounding.
  static T fmadd(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static T fnmadd(T a, T b, T c) { return vfmsq_f32(c, a, b); }
  // NaN in either operand gives NaN, so min(constant, x) keeps a NaN x as on x86.
  static T min(T a, T b) { return vminq_f32(a, b); }
  static T max(T a, T b) { return vmaxq_f32(a, b); }
  // 0 > a ? 0 : a, the reference ReLU: NaN passes through and -0.0 stays -0.0.
  // A compare and select: vmaxq_f32 turns -0.0 into +0.0.
  static T relu(T a) { return vbslq_f32(vcltq_f32(a, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), a); }
  // Ordered compares: false when either operand is NaN.
  static T select_gt(T a, T b, T if_true, T if_false) {
    return vbslq_f32(vcgtq_f32(a, b), if_true, if_false);
  }
  static T select_lt(T a, T b, T if_true, T if_false) {
    return vbslq_f32(vcltq_f32(a, b), if_true, if_false);
  }
  static T select_le(T a, T b, T if_true, T if_false) {
    return vbslq_f32(vcleq_f32(a, b), if_true, if_false);
  }
  static T abs(T a) { return vabsq_f32(a); }
  // The magnitude of `magnitude` with the sign of `sign`.
  static T copysign(T magnitude, T sign) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sign, magnitude);
  }
  static T round(T a) { return vrndnq_f32(a); }
  // 2^n for integral n in [-126, 127], built in the exponent field.
  static T pow2(T n) {
    const int32x4_t biased = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(biased, 23));
  }
  // Horizontal reductions in a fixed lane order.
  static double sum(T v) {
    return vaddvq_f64(vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
  }
  static float max_lanes(T v) { return vmaxvq_f32(v); }

  // Masks select lanes. Masked loads, stores and gathers never touch the memory of a lane that
  // is off; NEON has none of them, so they go lane by lane unless every lane is on.

  // Lanes below n; every lane when n >= kLanes.
  static Mask mask_first(std::size_t n) {
    const std::int32_t count = static_cast<std::int32_t>(n < kLanes ? n : kLanes);
    return vcltq_s32(iiota(), vdupq_n_s32(count));
  }
  static Mask mask_and(Mask a, Mask b) { return vandq_u32(a, b); }
  static bool all_on(Mask m) { return vminvq_u32(m) != 0; }
  // Off lanes read as zero.
  static T load_mask(const float* p, Mask m) {
    if (all_on(m)) return vld1q_f32(p);
    std::uint32_t on[kLanes];
    vst1q_u32(on, m);
    float lanes[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::size_t i = 0; i < kLanes; ++i) {
      if (on[i] != 0) lanes[i] = p[i];
    }
    return vld1q_f32(lanes);
  }
  static void store_mask(float* p, T v, Mask m) {
    if (all_on(m)) {
      vst1q_f32(p, v);
      return;
    }
    std::uint32_t on[kLanes];
    vst1q_u32(on, m);
    float lanes[kLanes];
    vst1q_f32(lanes, v);
    for (std::size_t i = 0; i < kLanes; ++i) {
      if (on[i] != 0) p[i] = lanes[i];
    }
  }
  // Lane i: base[index_i] where the mask is on, else fill_i.
  static T gather(const float* base, I index, Mask m, T fill) {
    std::int32_t at[kLanes];
    std::uint32_t on[kLanes];
    float lanes[kLanes];
    vst1q_s32(at, index);
    vst1q_u32(on, m);
    vst1q_f32(lanes, fill);
    for (std::size_t i = 0; i < kLanes; ++i) {
      if (on[i] != 0) lanes[i] = base[at[i]];
    }
    return vld1q_f32(lanes);
  }

  // Conversions.
  static T iota() { return vcvtq_f32_s32(iiota()); }
  static T floor(T a) { return vrndmq_f32(a); }
  // Towards zero; exact for integral a in the int32 range.
  static I to_int(T a) { return vcvtq_s32_f32(a); }
  static T to_float(I a) { return vcvtq_f32_s32(a); }
  // min(max(v, low), high), and low for a NaN v (vmaxnm prefers the number).
  static T clamp(T v, T low, T high) { return vminq_f32(vmaxnmq_f32(v, low), high); }
  // The bytes p[0 .. kLanes - 1] as floats in [0, 255].
  static T load_bytes(const std::uint8_t* p) {
    std::uint32_t word;
    __builtin_memcpy(&word, p, sizeof word);
    const uint16x8_t wide = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(word)));
    return vcvtq_f32_u32(vmovl_u16(vget_low_u16(wide)));
  }
  // out[4 j + w] = v[w] lane j for j < kLanes: four vectors interleaved into 4 kLanes floats.
  static void store_interleaved4(float* out, const T v[4]) {
    vst4q_f32(out, (float32x4x4_t{{v[0], v[1], v[2], v[3]}}));
  }

  // 32-bit integer lanes; arithmetic wraps modulo 2^32.
  static I iset1(std::uint32_t x) { return vreinterpretq_s32_u32(vdupq_n_u32(x)); }
  static I iiota() {
    const std::int32_t lanes[kLanes] = {0, 1, 2, 3};
    return vld1q_s32(lanes);
  }
  static I iadd(I a, I b) { return vaddq_s32(a, b); }
  static I imul(I a, I b) { return vmulq_s32(a, b); }
  static I ixor(I a, I b) { return veorq_s32(a, b); }
  template <int kBits>
  static I shift_right(I a) {  // logical
    return vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(a), kBits));
  }
  // The high and low halves of the unsigned 64-bit products a_i b_i: two widening multiplies,
  // de-interleaved into low and high halves.
  static void mul_wide(I a, I b, I& high, I& low) {
    const uint32x4_t ua = vreinterpretq_u32_s32(a), ub = vreinterpretq_u32_s32(b);
    const uint32x4_t products_low =
        vreinterpretq_u32_u64(vmull_u32(vget_low_u32(ua), vget_low_u32(ub)));
    const uint32x4_t products_high = vreinterpretq_u32_u64(vmull_high_u32(ua, ub));
    low = vreinterpretq_s32_u32(vuzp1q_u32(products_low, products_high));
    high = vreinterpretq_s32_u32(vuzp2q_u32(products_low, products_high));
  }
  // 0 <= v < size: one unsigned compare, negative v wrapping to huge values (size < 2^31).
  static Mask in_range(I v, I size) {
    return vcltq_u32(vreinterpretq_u32_s32(v), vreinterpretq_u32_s32(size));
  }

  // Double lanes for reductions carried in double: a float vector widens into two halves.
  using D = float64x2_t;
  static D zero_d() { return vdupq_n_f64(0.0); }
  static D set1_d(double x) { return vdupq_n_f64(x); }
  static D low_d(T v) { return vcvt_f64_f32(vget_low_f32(v)); }
  static D high_d(T v) { return vcvt_high_f64_f32(v); }
  static D add_d(D a, D b) { return vaddq_f64(a, b); }
  static D sub_d(D a, D b) { return vsubq_f64(a, b); }
  static D fmadd_d(D a, D b, D c) { return vfmaq_f64(c, a, b); }
  static D load_d(const double* p) { return vld1q_f64(p); }
  static void store_d(double* p, D v) { vst1q_f64(p, v); }

  // The lanes summed in float (vaddvq_f32's pairwise order): the conv kernels' horizontal sum,
  // whose bits their results keep.
  static float sum_float(T v) { return vaddvq_f32(v); }
  // r[i] becomes column i of the kLanes x kLanes block whose rows were r[0 .. kLanes): a 4 x 4
  // transpose in registers.
  static void transpose_lanes(T (&r)[kLanes]) {
    const float32x4x2_t upper = vtrnq_f32(r[0], r[1]), lower = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(upper.val[0]), vget_low_f32(lower.val[0]));
    r[1] = vcombine_f32(vget_low_f32(upper.val[1]), vget_low_f32(lower.val[1]));
    r[2] = vcombine_f32(vget_high_f32(upper.val[0]), vget_high_f32(lower.val[0]));
    r[3] = vcombine_f32(vget_high_f32(upper.val[1]), vget_high_f32(lower.val[1]));
  }

  // Compares give masks: ordered (false when either operand is NaN), and NaN lanes.
  static Mask cmp_gt(T a, T b) { return vcgtq_f32(a, b); }
  static Mask cmp_le(T a, T b) { return vcleq_f32(a, b); }
  static Mask is_nan(T a) { return vmvnq_u32(vceqq_f32(a, a)); }
  static Mask ieq(I a, I b) { return vceqq_s32(a, b); }
  static Mask mask_or(Mask a, Mask b) { return vorrq_u32(a, b); }
  // Lane by lane: if_true where the mask is on, else if_false; keep_mask gives +0 where it is off.
  static T select(Mask m, T if_true, T if_false) { return vbslq_f32(m, if_true, if_false); }
  static I iselect(Mask m, I if_true, I if_false) { return vbslq_s32(m, if_true, if_false); }
  static T keep_mask(T v, Mask m) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), m));
  }
  // 32-bit integer loads and stores; masked ones as load_mask and store_mask, lane by lane.
  static I iload(const std::int32_t* p) { return vld1q_s32(p); }
  static void istore(std::int32_t* p, I v) { vst1q_s32(p, v); }
  static I iload_mask(const std::int32_t* p, Mask m) {
    return vreinterpretq_s32_f32(load_mask(reinterpret_cast<const float*>(p), m));
  }
  static void istore_mask(std::int32_t* p, I v, Mask m) {
    store_mask(reinterpret_cast<float*>(p), vreinterpretq_f32_s32(v), m);
  }
  // The even and the odd lanes of the concatenation [a b], in order.
  static void deinterleave(T a, T b, T& even, T& odd) {
    even = vuzp1q_f32(a, b);
    odd = vuzp2q_f32(a, b);
  }
  // deinterleave of p[0 .. 2 kLanes), in one de-interleaving load.
  static void load_deinterleave(const float* p, T& even, T& odd) {
    const float32x4x2_t pair = vld2q_f32(p);
    even = pair.val[0];
    odd = pair.val[1];
  }
  // Each lane twice, in order: low = v0 v0 v1 v1, high = v2 v2 v3 v3.
  static void duplicate_lanes(T v, T& low, T& high) {
    low = vzip1q_f32(v, v);
    high = vzip2q_f32(v, v);
  }
  static void iduplicate_lanes(I v, I& low, I& high) {
    low = vzip1q_s32(v, v);
    high = vzip2q_s32(v, v);
  }
};

}  // namespace odyssey::neon
