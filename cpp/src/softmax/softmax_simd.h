// The softmax row kernels written once over a lane type V; each *_<isa>.cc instantiates them with
// its own V. Sums keep float lanes and reduce them in double in a fixed lane order; the plain sum
// is odyssey/simd/elementwise.h's.
#pragma once

#include <cstddef>

#include "odyssey/simd/elementwise.h"
#include "odyssey/simd/vecmath.h"
#include "odyssey/softmax.h"

namespace odyssey::simd {

template <class V>
float row_max(const float* x, std::size_t n) {
  std::size_t i = 0;
  float m = x[0];
  if (n >= V::kLanes) {
    typename V::T acc = V::load(x);
    for (i = V::kLanes; i + V::kLanes <= n; i += V::kLanes) acc = V::max(acc, V::load(x + i));
    m = V::max_lanes(acc);
  }
  // The tail scalar: max is exact, and padding lanes would need -inf rather than zeros.
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

template <class V>
double exp_sum(const float* x, float shift, float* out, std::size_t n) {
  using T = typename V::T;
  const T s = V::set1(shift);
  T acc = V::zero();
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    const T e = simd::exp<V>(V::sub(V::load(x + i), s));
    if (out != nullptr) V::store(out + i, e);
    acc = V::add(acc, e);
  }
  if (i < n) {
    const std::size_t rest = n - i;
    const T e = V::keep_first(simd::exp<V>(V::sub(V::load_first(x + i, rest), s)), rest);
    if (out != nullptr) V::store_first(out + i, e, rest);
    acc = V::add(acc, e);
  }
  return V::sum(acc);
}

template <class V>
void scale(const float* x, float s, float* out, std::size_t n) {
  using T = typename V::T;
  const T factor = V::set1(s);
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(out + i, V::mul(V::load(x + i), factor));
  if (i < n) V::store_first(out + i, V::mul(V::load_first(x + i, n - i), factor), n - i);
}

template <class V>
void subtract2(const float* x, float a, float b, float* out, std::size_t n) {
  using T = typename V::T;
  const T va = V::set1(a), vb = V::set1(b);
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    V::store(out + i, V::sub(V::sub(V::load(x + i), va), vb));
  }
  if (i < n) V::store_first(out + i, V::sub(V::sub(V::load_first(x + i, n - i), va), vb), n - i);
}

template <class V>
double dot(const float* a, const float* b, std::size_t n) {
  typename V::T acc = V::zero();
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) acc = V::fmadd(V::load(a + i), V::load(b + i), acc);
  if (i < n) acc = V::fmadd(V::load_first(a + i, n - i), V::load_first(b + i, n - i), acc);
  return V::sum(acc);
}

template <class V>
void softmax_backward(const float* grad_y, const float* y, float dot_value, float* grad_x,
                      std::size_t n) {
  using T = typename V::T;
  const T d = V::set1(dot_value);
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    V::store(grad_x + i, V::mul(V::load(y + i), V::sub(V::load(grad_y + i), d)));
  }
  if (i < n) {
    const std::size_t rest = n - i;
    V::store_first(grad_x + i,
                   V::mul(V::load_first(y + i, rest), V::sub(V::load_first(grad_y + i, rest), d)),
                   rest);
  }
}

template <class V>
void log_softmax_backward(const float* grad_y, const float* y, float sum_value, float* grad_x,
                          std::size_t n) {
  using T = typename V::T;
  const T s = V::set1(sum_value);
  std::size_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    const T e = simd::exp<V>(V::load(y + i));
    V::store(grad_x + i, V::sub(V::load(grad_y + i), V::mul(e, s)));
  }
  if (i < n) {
    const std::size_t rest = n - i;
    const T e = simd::exp<V>(V::load_first(y + i, rest));
    V::store_first(grad_x + i, V::sub(V::load_first(grad_y + i, rest), V::mul(e, s)), rest);
  }
}

template <class V>
constexpr SoftmaxKernels softmax_kernels_for() {
  return SoftmaxKernels{.max = row_max<V>,
                        .exp_sum = exp_sum<V>,
                        .scale = scale<V>,
                        .subtract2 = subtract2<V>,
                        .dot = dot<V>,
                        .sum = sum<V>,
                        .softmax_backward = softmax_backward<V>,
                        .log_softmax_backward = log_softmax_backward<V>};
}

}  // namespace odyssey::simd
