// The reference micro-kernel every SIMD variant is tested against: a 4 x 4 register tile.
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

}  // namespace

const GemmKernels kGemm{.mr = kMr,
                        .nr = kNr,
                        .tile = sgemm_tile_4x4_scalar,
                        .pack_transposed = nullptr,
                        .pack_copy = nullptr};

}  // namespace odyssey::scalar
