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
// memory-bound loops, so a partial vector goes first. It moves where vectors start, which would
// change the order of a reduction's additions: only elementwise loops use it as it is, and sum
// below shifts its accumulators back to undo it.
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

// The vector of p[begin ..] up to p[end - 1], zeros in the lanes past it (all of them when begin
// >= end; then nothing is read).
template <class V>
typename V::T load_part(const float* p, std::size_t begin, std::size_t end) {
  if (begin >= end) return V::zero();
  return end - begin >= V::kLanes ? V::load(p + begin) : V::load_first(p + begin, end - begin);
}

template <class V>
double combine(typename V::T a0, typename V::T a1, typename V::T a2, typename V::T a3) {
  return V::sum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// x[0] + ... + x[n - 1] in float lanes, reduced in double. Element i joins lane i % kLanes of
// accumulator (i / kLanes) % 4 (four hide the add latency), so each of the 4 kLanes classes adds
// its elements in index order starting from zero, and the classes combine in a fixed order: the
// bits depend on the values and n alone. Loads from x itself would place every element so, but
// split cache lines cost up to half the speed; so the loads start at x's first vector boundary, h
// elements in, which shifts every element h lanes further through the accumulators. The h
// elements before the boundary go in first, where that shift puts them, and the accumulators are
// shifted back at the end.
template <class V>
double sum(const float* x, std::size_t n) {
  using T = typename V::T;
  constexpr std::size_t kLanes = V::kLanes, kBlock = 4 * kLanes;
  const std::size_t h = head_length<V>(x, n);
  T acc0 = V::zero(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  if (h > 0) {
    // Element j < h belongs at position kBlock - h + j: the top lanes of acc3. 0 + x, as a vector
    // add to a zero accumulator does, turns -0.0 into +0.0.
    const T head = V::add(V::zero(), V::load_first(x, h));
    acc3 = V::shift_in(V::zero(), head, kLanes - h);
  }
  const float* p = x + h;
  const std::size_t m = n - h;
  std::size_t i = 0;
  for (; i + kBlock <= m; i += kBlock) {
    acc0 = V::add(acc0, V::load(p + i));
    acc1 = V::add(acc1, V::load(p + i + kLanes));
    acc2 = V::add(acc2, V::load(p + i + 2 * kLanes));
    acc3 = V::add(acc3, V::load(p + i + 3 * kLanes));
  }
  // The last partial block, each of its vectors into its own accumulator. Lanes past the end add
  // +0.0, which changes no partial sum (none is ever -0.0). Unconditional adds, because GCC keeps
  // conditionally updated vectors in memory through the loop above.
  acc0 = V::add(acc0, load_part<V>(p, i, m));
  acc1 = V::add(acc1, load_part<V>(p, i + kLanes, m));
  acc2 = V::add(acc2, load_part<V>(p, i + 2 * kLanes, m));
  acc3 = V::add(acc3, load_part<V>(p, i + 3 * kLanes, m));
  if (h == 0) return combine<V>(acc0, acc1, acc2, acc3);
  // Element i sits h positions past i mod kBlock, cyclically over the four accumulators.
  return combine<V>(V::shift_in(acc3, acc0, h), V::shift_in(acc0, acc1, h),
                    V::shift_in(acc1, acc2, h), V::shift_in(acc2, acc3, h));
}

}  // namespace odyssey::simd
