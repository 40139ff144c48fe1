// The eltwise kernels written once over a lane type V; each *_<isa>.cc instantiates them with its
// own V. The sum is odyssey/simd/elementwise.h's: its order of additions depends on the indices
// alone, never on where the array starts.
#pragma once

#include "odyssey/eltwise.h"
#include "odyssey/simd/elementwise.h"

namespace odyssey::simd {

template <class V>
void add(const float* a, const float* b, float* out, std::size_t n) {
  map_binary<V>(a, b, out, n, [](typename V::T x, typename V::T y) { return V::add(x, y); });
}

template <class V>
void mul(const float* a, const float* b, float* out, std::size_t n) {
  map_binary<V>(a, b, out, n, [](typename V::T x, typename V::T y) { return V::mul(x, y); });
}

template <class V>
void relu(const float* x, float* out, std::size_t n) {
  map_unary<V>(x, out, n, [](typename V::T v) { return V::relu(v); });
}

template <class V>
constexpr EltwiseKernels eltwise_kernels_for() {
  return EltwiseKernels{.add = add<V>, .mul = mul<V>, .relu = relu<V>, .sum = sum<V>};
}

}  // namespace odyssey::simd
