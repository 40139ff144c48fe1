// GemmKernels::dot_rows written once over a lane type L (odyssey/simd/vec_<isa>.h), and the order
// of its sums, which every ISA and the scalar reference share (see gemm.h): 16 partial sums, sum l
// taking the products of the p = l mod 16, in ascending p, each one multiply-add (the lanes of a
// last, partial block past k add 0 * 0), then combined as s[l] + s[l + 8], + 4, + 2, + 1. On 16
// lanes the sums are one vector, on 8 two, on 4 four. Like gemm_tile.h, includes no
// standard-library header (see there).
#pragma once

#include "odyssey/gemm.h"

namespace odyssey::gemm_dot {
// Internal linkage: each translation unit keeps its own copies, compiled for its ISA (an inline
// function shared across them could be the AVX-512 copy the linker keeps for the scalar one).
namespace {

constexpr std::size_t kSums = 16;

// The 16 partial sums' total, by the fixed tree.
float combine(float (&s)[kSums]) {
  for (std::size_t half = kSums / 2; half >= 1; half /= 2) {
    for (std::size_t l = 0; l < half; ++l) s[l] = s[l] + s[l + half];
  }
  return s[0];
}

// c[j0 + jj] for jj < kCols: A's row `row_a` against kCols rows of B from row_b0 on. The columns'
// sums are independent chains, kCols of them in flight to hide the multiply-add latency; each keeps
// the order of gemm_dot's sums.
template <class L, std::size_t kCols>
[[gnu::always_inline]] inline void dot_columns(const float* row_a, const float* row_b0,
                                               std::size_t ldb, std::size_t k, const float* bias,
                                               float* c) {
  constexpr std::size_t kLanes = L::kLanes;
  constexpr std::size_t kVectors = kSums / kLanes;
  static_assert(kVectors * kLanes == kSums, "the lane count must divide 16");
  using T = typename L::T;
  const std::size_t whole = k - k % kSums;
  T acc[kCols][kVectors];
  for (std::size_t jj = 0; jj < kCols; ++jj) {
    for (std::size_t v = 0; v < kVectors; ++v) acc[jj][v] = L::zero();
  }
  for (std::size_t p = 0; p < whole; p += kSums) {
    for (std::size_t v = 0; v < kVectors; ++v) {
      const T x = L::load(row_a + p + v * kLanes);
      for (std::size_t jj = 0; jj < kCols; ++jj) {
        acc[jj][v] = L::fmadd(x, L::load(row_b0 + jj * ldb + p + v * kLanes), acc[jj][v]);
      }
    }
  }
  if (whole < k) {
    for (std::size_t v = 0; v < kVectors; ++v) {
      const std::size_t start = whole + v * kLanes;
      const std::size_t count = start >= k ? 0 : (k - start < kLanes ? k - start : kLanes);
      for (std::size_t jj = 0; jj < kCols; ++jj) {
        const float* row_b = row_b0 + jj * ldb;
        T x = L::zero(), y = L::zero();
        if (count == kLanes) {
          x = L::load(row_a + start);
          y = L::load(row_b + start);
        } else if (count > 0) {
          x = L::load_first(row_a + start, count);
          y = L::load_first(row_b + start, count);
        }
        acc[jj][v] = L::fmadd(x, y, acc[jj][v]);
      }
    }
  }
  for (std::size_t jj = 0; jj < kCols; ++jj) {
    float s[kSums];
    for (std::size_t v = 0; v < kVectors; ++v) L::store(s + v * kLanes, acc[jj][v]);
    const float total = combine(s);
    c[jj] = bias == nullptr ? total : total + bias[jj];
  }
}

// c[i * ldc + j] = sum_p a[i * lda + p] * b[j * ldb + p] (+ bias[j]) for i < m, j < n.
template <class L>
void dot_rows(const float* a, std::size_t m, std::size_t lda, const float* b, std::size_t ldb,
              std::size_t n, std::size_t k, const float* bias, float* c, std::size_t ldc) {
  constexpr std::size_t kCols = 4;
  for (std::size_t i = 0; i < m; ++i) {
    const float* row_a = a + i * lda;
    float* row_c = c + i * ldc;
    std::size_t j = 0;
    for (; j + kCols <= n; j += kCols) {
      dot_columns<L, kCols>(row_a, b + j * ldb, ldb, k, bias == nullptr ? nullptr : bias + j,
                            row_c + j);
    }
    for (; j < n; ++j) {
      dot_columns<L, 1>(row_a, b + j * ldb, ldb, k, bias == nullptr ? nullptr : bias + j,
                        row_c + j);
    }
  }
}

}  // namespace
}  // namespace odyssey::gemm_dot
