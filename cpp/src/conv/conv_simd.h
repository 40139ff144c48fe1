// What the direct convolution kernels (conv_columns.h, conv_channels.h, conv_batch.h) share. They
// are written once over V: an ISA's lane type (odyssey/simd/vec_<isa>.h) with that ISA's register
// blocking added, as each conv_<isa>.cc declares it,
//   struct Conv : Vec { static constexpr int kForwardChannels = 6; ... };
// in an anonymous namespace, so every instantiation stays private to that unit and its target
// flags. The tuning constants each kernel reads are listed at its header's top.
#pragma once

#include <cstddef>

#include "odyssey/conv.h"

namespace odyssey::conv_direct {

// Calls body(Count<n>()) for n == count, 1 <= n <= Max: turns a run-time block size (the last block
// of a loop may be short) into the compile-time size a register-blocked kernel is written for.
template <int N>
struct Count {
  static constexpr int value = N;
};

template <int Max, class Body>
void with_count(std::size_t count, const Body& body) {
  if (count == Max) {
    body(Count<Max>());
  } else if constexpr (Max > 1) {
    with_count<Max - 1>(count, body);
  }
}

// The first min(count, kLanes) lanes at p (count > 0), the others zero: memory past them is not
// touched. The test on count also bounds it for the compiler where store_first and load_first are
// loops over a stack copy (NEON).
template <class V>
typename V::T load_part(const float* p, std::size_t count) {
  return count >= V::kLanes ? V::load(p) : V::load_first(p, count);
}
template <class V>
void store_part(float* p, typename V::T v, std::size_t count) {
  if (count >= V::kLanes) {
    V::store(p, v);
  } else {
    V::store_first(p, v, count);
  }
}

// y[l * stride + r] = lane l of rows[r] for r < count, l < lanes (both at most kLanes): an
// in-register transpose, then one partial store per lane. Always inlined, as the traits' member it
// replaces was: called out of line, it would take the accumulators through memory.
template <class V>
[[gnu::always_inline]] inline void store_transposed(const typename V::T* rows, std::size_t count,
                                                    float* y, std::size_t stride,
                                                    std::size_t lanes) {
  typename V::T r[V::kLanes];
  for (std::size_t i = 0; i < V::kLanes; ++i) r[i] = i < count ? rows[i] : V::zero();
  V::transpose_lanes(r);
  // Unrolled over every lane, so r stays in registers: a loop over a run-time count of whole
  // stores to contiguous rows would become a memcpy from the stack.
#pragma GCC unroll 16
  for (std::size_t l = 0; l < V::kLanes; ++l) {
    if (l < lanes) store_part<V>(y + l * stride, r[l], count);
  }
}

}  // namespace odyssey::conv_direct
