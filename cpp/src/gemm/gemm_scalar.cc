// The reference micro-kernel every SIMD variant is tested against: a 4 x 4 register tile.
#include <cmath>

#include "gemm_dot.h"
#include "odyssey/gemm.h"

namespace odyssey::scalar {
namespace {

constexpr std::size_t kMr = 4;
constexpr std::size_t kNr = 4;

void sgemm_tile_4x4_scalar(const GemmTile& t) {
  float acc[kMr][kNr] = {};
  const float* a = t.a;
  const float* b = t.b;
  for (std::size_t p = 0; p < t.k; ++p, a += t.a_stride, b += t.b_stride) {
    for (std::size_t i = 0; i < t.m; ++i) {
      for (std::size_t j = 0; j < t.n; ++j) acc[i][j] += a[i * t.a_row] * b[j];
    }
  }
  for (std::size_t i = 0; i < t.m; ++i) {
    float* c = t.c + i * t.ldc;
    for (std::size_t j = 0; j < t.n; ++j) {
      float r = t.alpha * acc[i][j];
      if (t.beta != 0.0f) r += t.beta * c[j];
      if (t.bias != nullptr) r += t.bias[j];
      c[j] = r;
    }
  }
}

// gemm_dot.h's order of sums, one lane at a time: the last block's lanes past k add 0 * 0.
void dot_rows_scalar(const float* a, std::size_t m, std::size_t lda, const float* b,
                     std::size_t ldb, std::size_t n, std::size_t k, const float* bias, float* c,
                     std::size_t ldc) {
  constexpr std::size_t kSums = gemm_dot::kSums;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      float s[kSums] = {};
      for (std::size_t p0 = 0; p0 < k; p0 += kSums) {
        for (std::size_t l = 0; l < kSums; ++l) {
          const std::size_t p = p0 + l;
          const float x = p < k ? a[i * lda + p] : 0.0f;
          const float y = p < k ? b[j * ldb + p] : 0.0f;
          s[l] = std::fma(x, y, s[l]);
        }
      }
      const float total = gemm_dot::combine(s);
      c[i * ldc + j] = bias == nullptr ? total : total + bias[j];
    }
  }
}

}  // namespace

const GemmKernels kGemm{.mr = kMr,
                        .nr = kNr,
                        .tile = sgemm_tile_4x4_scalar,
                        .pack_transposed = nullptr,
                        .pack_copy = nullptr,
                        .dot_rows = dot_rows_scalar};

}  // namespace odyssey::scalar
