// The batch-norm kernels written once over a lane type V; each norm_<isa>.cc instantiates them
// with its own V. Reductions widen the floats into double lanes: element i of a plane joins slot
// i % (2 * kLanes) of the accumulators, the elements past the last whole step are added to their
// slots one by one, and the slots are summed in index order, so the bits depend on the values and
// n alone, never on where the plane lies in memory.
#pragma once

#include <cstddef>

#include "odyssey/norm.h"
#include "odyssey/simd/elementwise.h"

namespace odyssey::simd {

// Sums K terms over i < n in double. vec_terms(i, lo, hi) adds the terms of elements [i, i +
// kLanes) to the accumulators lo[k] (their low half) and hi[k] (their high half);
// scalar_terms(i, term) writes element i's K terms.
template <class V, std::size_t K, class VecTerms, class ScalarTerms>
void reduce(std::size_t n, const VecTerms& vec_terms, const ScalarTerms& scalar_terms,
            double (&total)[K]) {
  using D = typename V::D;
  constexpr std::size_t kLanes = V::kLanes, kHalf = kLanes / 2, kStep = 2 * kLanes;
  D acc[4][K];
  for (auto& quarter : acc) {
    for (D& a : quarter) a = V::zero_d();
  }
  std::size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    vec_terms(i, acc[0], acc[1]);
    vec_terms(i + kLanes, acc[2], acc[3]);
  }
  double slots[K][kStep];
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t q = 0; q < 4; ++q) V::store_d(slots[k] + q * kHalf, acc[q][k]);
  }
  for (; i < n; ++i) {
    double term[K];
    scalar_terms(i, term);
    for (std::size_t k = 0; k < K; ++k) slots[k][i % kStep] += term[k];
  }
  for (std::size_t k = 0; k < K; ++k) {
    double sum = 0.0;
    for (double s : slots[k]) sum += s;
    total[k] = sum;
  }
}

template <class V>
void plane_moments(const float* x, std::size_t n, double* mean, double* m2) {
  using D = typename V::D;
  double sum[1];
  reduce<V, 1>(
      n,
      [&](std::size_t i, D* lo, D* hi) {
        const typename V::T v = V::load(x + i);
        lo[0] = V::add_d(lo[0], V::low_d(v));
        hi[0] = V::add_d(hi[0], V::high_d(v));
      },
      [&](std::size_t i, double* term) { term[0] = static_cast<double>(x[i]); }, sum);
  const double m = sum[0] / static_cast<double>(n);
  const D vm = V::set1_d(m);
  double squares[1];
  reduce<V, 1>(
      n,
      [&](std::size_t i, D* lo, D* hi) {
        const typename V::T v = V::load(x + i);
        const D d_lo = V::sub_d(V::low_d(v), vm), d_hi = V::sub_d(V::high_d(v), vm);
        lo[0] = V::fmadd_d(d_lo, d_lo, lo[0]);
        hi[0] = V::fmadd_d(d_hi, d_hi, hi[0]);
      },
      [&](std::size_t i, double* term) {
        const double d = static_cast<double>(x[i]) - m;
        term[0] = d * d;
      },
      squares);
  *mean = m;
  *m2 = squares[0];
}

template <class V>
void plane_grad_sums(const float* g, const float* x, float mean, std::size_t n, double* sum_g,
                     double* sum_gd) {
  using D = typename V::D;
  const D vm = V::set1_d(mean);
  double sums[2];
  reduce<V, 2>(
      n,
      [&](std::size_t i, D* lo, D* hi) {
        const typename V::T gv = V::load(g + i), xv = V::load(x + i);
        const D g_lo = V::low_d(gv), g_hi = V::high_d(gv);
        lo[0] = V::add_d(lo[0], g_lo);
        hi[0] = V::add_d(hi[0], g_hi);
        lo[1] = V::fmadd_d(g_lo, V::sub_d(V::low_d(xv), vm), lo[1]);
        hi[1] = V::fmadd_d(g_hi, V::sub_d(V::high_d(xv), vm), hi[1]);
      },
      [&](std::size_t i, double* term) {
        term[0] = g[i];
        term[1] = static_cast<double>(g[i]) * (static_cast<double>(x[i]) - mean);
      },
      sums);
  *sum_g = sums[0];
  *sum_gd = sums[1];
}

template <class V>
void plane_affine(const float* x, float mean, float scale, float shift, float* y, std::size_t n) {
  using T = typename V::T;
  const T m = V::set1(mean), s = V::set1(scale), b = V::set1(shift);
  map_unary<V>(x, y, n, [&](T v) { return V::fmadd(V::sub(v, m), s, b); });
}

template <class V>
void plane_backward(const float* g, const float* x, float mean, float a, float b, float c,
                    float* dx, std::size_t n) {
  using T = typename V::T;
  const T vm = V::set1(mean), va = V::set1(a), vb = V::set1(b), vc = V::set1(c);
  map_binary<V>(g, x, dx, n,
                [&](T gv, T xv) { return V::fmadd(gv, va, V::fmadd(V::sub(xv, vm), vb, vc)); });
}

// The row kernels: one column per lane, so every column's sum runs in row order whatever the
// alignment; the columns past the last whole vector go one by one.
template <class V>
void row_sum(const float* x, double* acc, std::size_t n) {
  constexpr std::size_t kLanes = V::kLanes, kHalf = kLanes / 2;
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const typename V::T v = V::load(x + j);
    V::store_d(acc + j, V::add_d(V::load_d(acc + j), V::low_d(v)));
    V::store_d(acc + j + kHalf, V::add_d(V::load_d(acc + j + kHalf), V::high_d(v)));
  }
  for (; j < n; ++j) acc[j] += static_cast<double>(x[j]);
}

template <class V>
void row_sq_dev(const float* x, const double* mean, double* acc, std::size_t n) {
  using D = typename V::D;
  constexpr std::size_t kLanes = V::kLanes, kHalf = kLanes / 2;
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const typename V::T v = V::load(x + j);
    const D d_lo = V::sub_d(V::low_d(v), V::load_d(mean + j));
    const D d_hi = V::sub_d(V::high_d(v), V::load_d(mean + j + kHalf));
    V::store_d(acc + j, V::fmadd_d(d_lo, d_lo, V::load_d(acc + j)));
    V::store_d(acc + j + kHalf, V::fmadd_d(d_hi, d_hi, V::load_d(acc + j + kHalf)));
  }
  for (; j < n; ++j) {
    const double d = static_cast<double>(x[j]) - mean[j];
    acc[j] += d * d;
  }
}

template <class V>
void row_grad_sums(const float* g, const float* x, const float* mean, double* sum_g, double* sum_gd,
                   std::size_t n) {
  using D = typename V::D;
  constexpr std::size_t kLanes = V::kLanes, kHalf = kLanes / 2;
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const typename V::T gv = V::load(g + j), xv = V::load(x + j), mv = V::load(mean + j);
    const D g_lo = V::low_d(gv), g_hi = V::high_d(gv);
    const D d_lo = V::sub_d(V::low_d(xv), V::low_d(mv));
    const D d_hi = V::sub_d(V::high_d(xv), V::high_d(mv));
    V::store_d(sum_g + j, V::add_d(V::load_d(sum_g + j), g_lo));
    V::store_d(sum_g + j + kHalf, V::add_d(V::load_d(sum_g + j + kHalf), g_hi));
    V::store_d(sum_gd + j, V::fmadd_d(g_lo, d_lo, V::load_d(sum_gd + j)));
    V::store_d(sum_gd + j + kHalf, V::fmadd_d(g_hi, d_hi, V::load_d(sum_gd + j + kHalf)));
  }
  for (; j < n; ++j) {
    const double gj = g[j];
    sum_g[j] += gj;
    sum_gd[j] += gj * (static_cast<double>(x[j]) - static_cast<double>(mean[j]));
  }
}

template <class V>
void row_affine(const float* x, const float* mean, const float* scale, const float* shift, float* y,
                std::size_t n) {
  constexpr std::size_t kLanes = V::kLanes;
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    V::store(y + j, V::fmadd(V::sub(V::load(x + j), V::load(mean + j)), V::load(scale + j),
                             V::load(shift + j)));
  }
  if (j < n) {
    const std::size_t r = n - j;
    V::store_first(y + j,
                   V::fmadd(V::sub(V::load_first(x + j, r), V::load_first(mean + j, r)),
                            V::load_first(scale + j, r), V::load_first(shift + j, r)),
                   r);
  }
}

template <class V>
void row_backward(const float* g, const float* x, const float* mean, const float* a, const float* b,
                  const float* c, float* dx, std::size_t n) {
  using T = typename V::T;
  constexpr std::size_t kLanes = V::kLanes;
  const auto term = [](T gv, T xv, T mv, T av, T bv, T cv) {
    return V::fmadd(gv, av, V::fmadd(V::sub(xv, mv), bv, cv));
  };
  std::size_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    V::store(dx + j, term(V::load(g + j), V::load(x + j), V::load(mean + j), V::load(a + j),
                          V::load(b + j), V::load(c + j)));
  }
  if (j < n) {
    const std::size_t r = n - j;
    V::store_first(
        dx + j,
        term(V::load_first(g + j, r), V::load_first(x + j, r), V::load_first(mean + j, r),
             V::load_first(a + j, r), V::load_first(b + j, r), V::load_first(c + j, r)),
        r);
  }
}

template <class V>
constexpr NormKernels norm_kernels_for() {
  return NormKernels{
      .plane_moments = plane_moments<V>,
      .plane_grad_sums = plane_grad_sums<V>,
      .plane_affine = plane_affine<V>,
      .plane_backward = plane_backward<V>,
      .row_sum = row_sum<V>,
      .row_sq_dev = row_sq_dev<V>,
      .row_grad_sums = row_grad_sums<V>,
      .row_affine = row_affine<V>,
      .row_backward = row_backward<V>,
  };
}

}  // namespace odyssey::simd
