// The NEON (AArch64 Advanced SIMD) lane type behind the generic SIMD kernels (odyssey/simd/*.h).
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

namespace odyssey::neon {

struct Vec {
  using T = float32x4_t;
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

  // -- added by simd-conv --
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
};

}  // namespace odyssey::neon
