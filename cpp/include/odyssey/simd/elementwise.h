// Loops over whole arrays written once for any lane type V (vec_avx2.h, vec_avx512.h,
// vec_neon.h): elementwise maps and the sum reduction that the eltwise, activation and softmax
// kernels share. Each ISA instantiates them with its own V, so the instances never meet in the
// linker.
#pragma once

#include <cstddef>
#include <cstdint>

namespace odyssey::simd {

// Elements before `out` reaches a vector-size boundary, at most n. NumPy's arrays start 16-byte
// aligned, and full-width stores that split cache lines cost up to a fifth of the throughput of
// memory-bound loops, so a partial vector goes first. Only elementwise loops may use it: it moves
// where vectors start, which would change the order of a reduction's additions.
template <class V>
std::size_t head_length(const float* out, std::size_t n) {
  constexpr std::size_t kBytes = V::kLanes * sizeof(float);
  const std::size_t head =
      (kBytes - reinterpret_cast<std::uintptr_t>(out) % kBytes) % kBytes / sizeof(float);
  return head < n ? head : n;
}

// out[i] = op(x[i]); the partial vectors at both ends through masked loads and stores. Every
// element goes through the same vector code, so the split never changes a value.
template <class V, class Op>
void map_unary(const float* x, float* out, std::size_t n, Op op) {
  std::size_t i = head_length<V>(out, n);
  if (i > 0) V::store_first(out, op(V::load_first(x, i)), i);
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(out + i, op(V::load(x + i)));
  if (i < n) V::store_first(out + i, op(V::load_first(x + i, n - i)), n - i);
}

// out[i] = op(a[i], b[i]).
template <class V, class Op>
void map_binary(const float* a, const float* b, float* out, std::size_t n, Op op) {
  std::size_t i = head_length<V>(out, n);
  if (i > 0) V::store_first(out, op(V::load_first(a, i), V::load_first(b, i)), i);
  for (; i + V::kLanes <= n; i += V::kLanes) {
    V::store(out + i, op(V::load(a + i), V::load(b + i)));
  }
  if (i < n) {
    const std::size_t rest = n - i;
    V::store_first(out + i, op(V::load_first(a + i, rest), V::load_first(b + i, rest)), rest);
  }
}

// x[0] + ... + x[n - 1] in float lanes, reduced in double. Which lane and which accumulator an
// element joins depends on its index from x alone, never on x's address: vectors start at x
// (unaligned loads), four accumulators take turns to hide the add latency, the rest goes to the
// first two, and they are combined in a fixed order.
template <class V>
double sum(const float* x, std::size_t n) {
  using T = typename V::T;
  constexpr std::size_t kLanes = V::kLanes;
  T acc0 = V::zero(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  std::size_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    acc0 = V::add(acc0, V::load(x + i));
    acc1 = V::add(acc1, V::load(x + i + kLanes));
    acc2 = V::add(acc2, V::load(x + i + 2 * kLanes));
    acc3 = V::add(acc3, V::load(x + i + 3 * kLanes));
  }
  for (; i + kLanes <= n; i += kLanes) acc0 = V::add(acc0, V::load(x + i));
  if (i < n) acc1 = V::add(acc1, V::load_first(x + i, n - i));
  return V::sum(V::add(V::add(acc0, acc1), V::add(acc2, acc3)));
}

}  // namespace odyssey::simd
