// exp, expm1, sigmoid and tanh on SIMD lanes, written once for any lane type V (vec_avx2.h,
// vec_avx512.h, vec_neon.h). SIMD translation units may not include <cmath>, so the functions are
// polynomials. Each ISA instantiates them with its own V, so the instances never meet in the
// linker.
#pragma once

namespace odyssey::simd {

// e^r - 1 = r + r^2 p(r) for x = n ln2 + r, |r| <= ln2 / 2, with the minimax coefficients of
// Cephes' expf; sets n (integral, in float). The shared core of exp and expm1.
template <class V>
typename V::T expm1_reduced(typename V::T x, typename V::T& n) {
  using T = typename V::T;
  n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  // ln2 split in two so that n * ln2_hi is exact.
  T r = V::fnmadd(n, V::set1(0.693359375f), x);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  T p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  return V::fmadd(V::mul(p, r), r, r);
}

// e^x within about 2 ulp of the correctly rounded value for x in [-87.3, 88]. Larger x gives
// e^88 (finite; every caller either saturates there or only passes x <= 0), x below -87.3 gives
// exactly 0 (the true value is subnormal), and NaN propagates.
template <class V>
typename V::T exp(typename V::T x) {
  using T = typename V::T;
  constexpr float kMax = 88.0f;
  constexpr float kMin = -87.33654475f;  // ln(FLT_MIN): 2^n below stays a normal number
  // min(constant, x) and max(constant, x) return x when it is NaN.
  const T clamped = V::max(V::set1(kMin), V::min(V::set1(kMax), x));
  T n;
  const T er = V::add(expm1_reduced<V>(clamped, n), V::set1(1.0f));
  const T result = V::mul(er, V::pow2(n));
  return V::select_lt(x, V::set1(kMin), V::zero(), result);
}

// 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, so that neither side loses the small
// values: sigmoid(-100) is 0 or a tiny positive number, sigmoid(100) is exactly 1.
template <class V>
typename V::T sigmoid(typename V::T x) {
  const typename V::T e = exp<V>(V::sub(V::zero(), V::abs(x)));
  const typename V::T numerator = V::select_lt(x, V::zero(), e, V::set1(1.0f));
  return V::div(numerator, V::add(V::set1(1.0f), e));
}

// e^x - 1 for 0 <= x <= 88 without the cancellation of exp(x) - 1 near 0:
// e^x - 1 = 2^n (e^r - 1) + (2^n - 1). Larger x gives e^88 - 1; NaN propagates.
template <class V>
typename V::T expm1_nonnegative(typename V::T x) {
  using T = typename V::T;
  T n;
  const T em1r = expm1_reduced<V>(V::min(V::set1(88.0f), x), n);  // min keeps a NaN x
  const T scale = V::pow2(n);
  return V::fmadd(scale, em1r, V::sub(scale, V::set1(1.0f)));
}

// tanh |x| = (e^2|x| - 1) / (e^2|x| + 1), from expm1 so that small |x| keeps its relative
// accuracy, with the sign of x. Exactly +-1 from |x| of about 9 on (the quotient rounds to 1);
// NaN propagates and tanh(-0.0) is -0.0.
template <class V>
typename V::T tanh(typename V::T x) {
  const typename V::T a = V::abs(x);
  const typename V::T em1 = expm1_nonnegative<V>(V::add(a, a));
  return V::copysign(V::div(em1, V::add(em1, V::set1(2.0f))), x);
}

}  // namespace odyssey::simd
