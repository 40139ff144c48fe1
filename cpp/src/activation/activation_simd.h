// The activation kernels written once over a lane type V; each *_<isa>.cc instantiates them with
// its own V. Every element, heads and tails included, goes through the same vector code, so results
// do not depend on where a chunk starts or how the arrays are aligned.
#pragma once

#include <cstddef>

#include "odyssey/activation.h"
#include "odyssey/simd/elementwise.h"
#include "odyssey/simd/vecmath.h"

namespace odyssey::simd {

template <class V>
void relu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  using T = typename V::T;
  // The ordered compare is false for NaN, which passes the gradient as in PyTorch.
  map_binary<V>(grad_out, x, grad_x, n,
                [](T g, T v) { return V::select_le(v, V::zero(), V::zero(), g); });
}

template <class V>
void leaky_relu(const float* x, float slope, float* out, std::size_t n) {
  using T = typename V::T;
  const T s = V::set1(slope);
  map_unary<V>(x, out, n, [s](T v) { return V::select_gt(v, V::zero(), v, V::mul(v, s)); });
}

template <class V>
void leaky_relu_backward(const float* grad_out, const float* x, float slope, float* grad_x,
                         std::size_t n) {
  using T = typename V::T;
  const T s = V::set1(slope);
  map_binary<V>(grad_out, x, grad_x, n,
                [s](T g, T v) { return V::select_gt(v, V::zero(), g, V::mul(g, s)); });
}

template <class V>
void sigmoid(const float* x, float* out, std::size_t n) {
  map_unary<V>(x, out, n, [](typename V::T v) { return simd::sigmoid<V>(v); });
}

template <class V>
void sigmoid_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  using T = typename V::T;
  map_binary<V>(grad_out, y, grad_x, n,
                [](T g, T v) { return V::mul(V::mul(g, V::sub(V::set1(1.0f), v)), v); });
}

template <class V>
void tanh(const float* x, float* out, std::size_t n) {
  map_unary<V>(x, out, n, [](typename V::T v) { return simd::tanh<V>(v); });
}

template <class V>
void tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  using T = typename V::T;
  map_binary<V>(grad_out, y, grad_x, n,
                [](T g, T v) { return V::mul(g, V::sub(V::set1(1.0f), V::mul(v, v))); });
}

template <class V>
void lecun_tanh(const float* x, float* out, std::size_t n) {
  using T = typename V::T;
  map_unary<V>(x, out, n, [](T v) {
    return V::mul(V::set1(kLecunScale), simd::tanh<V>(V::mul(v, V::set1(kLecunSlope))));
  });
}

template <class V>
void lecun_tanh_backward(const float* grad_out, const float* y, float* grad_x, std::size_t n) {
  using T = typename V::T;
  map_binary<V>(grad_out, y, grad_x, n, [](T g, T v) {
    const T scale = V::set1(kLecunScale);
    const T derivative = V::sub(scale, V::div(V::mul(v, v), scale));
    return V::mul(V::mul(g, V::set1(kLecunSlope)), derivative);
  });
}

template <class V>
void hardtanh(const float* x, float lo, float hi, float* out, std::size_t n) {
  using T = typename V::T;
  const T l = V::set1(lo);
  const T h = V::set1(hi);
  // Ordered compares are false for NaN, which passes through both selects.
  map_unary<V>(x, out, n, [l, h](T v) {
    const T raised = V::select_gt(l, v, l, v);
    return V::select_gt(raised, h, h, raised);
  });
}

template <class V>
void hardtanh_backward(const float* grad_out, const float* x, float lo, float hi, float* grad_x,
                       std::size_t n) {
  using T = typename V::T;
  const T l = V::set1(lo);
  const T h = V::set1(hi);
  map_binary<V>(grad_out, x, grad_x, n, [l, h](T g, T v) {
    return V::select_gt(v, l, V::select_gt(h, v, g, V::zero()), V::zero());
  });
}

template <class V>
void silu(const float* x, float* out, std::size_t n) {
  map_unary<V>(x, out, n, [](typename V::T v) { return V::mul(v, simd::sigmoid<V>(v)); });
}

template <class V>
void silu_backward(const float* grad_out, const float* x, float* grad_x, std::size_t n) {
  using T = typename V::T;
  map_binary<V>(grad_out, x, grad_x, n, [](T g, T v) {
    const T s = simd::sigmoid<V>(v);
    const T one = V::set1(1.0f);
    return V::mul(V::mul(g, s), V::add(one, V::mul(v, V::sub(one, s))));
  });
}

template <class V>
constexpr ActivationKernels activation_kernels_for() {
  return ActivationKernels{
      .relu_backward = relu_backward<V>,
      .leaky_relu = leaky_relu<V>,
      .leaky_relu_backward = leaky_relu_backward<V>,
      .sigmoid = sigmoid<V>,
      .sigmoid_backward = sigmoid_backward<V>,
      .tanh = tanh<V>,
      .tanh_backward = tanh_backward<V>,
      .lecun_tanh = lecun_tanh<V>,
      .lecun_tanh_backward = lecun_tanh_backward<V>,
      .hardtanh = hardtanh<V>,
      .hardtanh_backward = hardtanh_backward<V>,
      .silu = silu<V>,
      .silu_backward = silu_backward<V>,
  };
}

}  // namespace odyssey::simd
