// Single-precision matrix multiply in the BLIS/Goto structure: packed panels of A and B, cache
// blocking, and a register-blocked micro-kernel per ISA.
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

enum class Trans { kNo, kYes };

// C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is m x k: A is stored m x k with row
// stride lda >= k, or for Trans::kYes k x m with lda >= m; likewise op(B) is k x n. With beta == 0,
// C is written without being read (NaNs in it do not propagate), as in BLAS. Split over the thread
// pool along blocks of C whose boundaries do not depend on the thread count, and never along k, so
// the bits are the same for every thread count. A call from inside a parallel_for body runs
// serially. When k == 0 or alpha == 0, A and B are not read (C = beta * C, as in BLAS).
void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc);

// At most this many rows of C, C = A B^T + bias with alpha 1 and beta 0 (a Linear forward) runs on
// GemmKernels::dot_rows when the call is too small to split over threads anyway.
inline constexpr std::size_t kDotRowsMax = 2;

// sgemm with a fused per-column bias, C[i, j] = alpha * (op(A) op(B))[i, j] + beta * C[i, j] +
// bias[j], added as C is written (a Linear layer's epilogue). bias == nullptr is plain sgemm.
// Throws std::invalid_argument when a leading dimension is smaller than its row.
void sgemm_bias(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                float beta, const float* bias, float* c, std::size_t ldc);

// The arguments of one sgemm_bias call.
struct GemmProblem {
  Trans trans_a, trans_b;
  std::size_t m, n, k;
  float alpha;
  const float* a;
  std::size_t lda;
  const float* b;
  std::size_t ldb;
  float beta;
  const float* bias;
  float* c;
  std::size_t ldc;
};

// Independent products as one parallel job: the blocks of all of them share the pool, so products
// too small to split on their own run side by side (a Linear layer's input and weight gradients:
// LeNet-5's 120 -> 84 layer takes one thread per product instead of leaving the second thread
// idle). Each product gets the bits of its own sgemm_bias call; no product's C may overlap any
// product's operands or another product's C. Throws std::invalid_argument as sgemm_bias does,
// before anything is written.
void sgemm_many(const GemmProblem* problems, std::size_t count);

// The gradients of a Linear layer y = x W^T + b (x: batch x in, W: out x in, all row-major), or of
// relu(y) when relu_out (that output, batch x out) is given: with g = dy, or dy where relu_out > 0
// (relu_backward's bits), dx = g W, dW = g^T x and db = g's sums over the batch, each skipped when
// its pointer is nullptr. The three are one sgemm_many job, each with the bits of its own sgemm
// call; db is the product g^T 1, so its sums are the tiles' chains of additions in ascending
// rows (restarted every kGemmKc rows). The outputs must not overlap the inputs or each other.
void linear_backward(const float* dy, const float* x, const float* w, const float* relu_out,
                     std::size_t batch, std::size_t in, std::size_t out, float* dx, float* dw,
                     float* db);

// One register tile of C, the unit a micro-kernel computes:
//   C[i, j] = alpha * sum_p a[p * a_stride + i * a_row] * b[p * b_stride + j] + beta * C[i, j]
//             + bias[j]
// for i < m <= mr, j < n <= nr, p < k. a and b are packed panels (a_row = 1) or, where the
// layout already suits or the panel is used too few times to repay packing, the operands
// themselves (A's rows or columns in place). beta == 0 never reads C; bias may be nullptr. The
// micro-kernels read only the m rows of a and n columns of b they use (masked loads), so an
// unpacked operand at the edge of its matrix is never read past its end.
struct GemmTile {
  std::size_t m, n, k;
  const float* a;
  std::size_t a_stride, a_row;
  const float* b;
  std::size_t b_stride;
  float* c;
  std::size_t ldc;
  float alpha, beta;
  const float* bias;
};

// Packing: copies a rows x cols block of src (row stride ld) into dst (row stride dst_stride),
// transposed (dst[c * dst_stride + r] = src[r * ld + c]) or as it is (dst[r * dst_stride + c]).
using GemmPack = void (*)(const float* src, std::size_t ld, std::size_t rows, std::size_t cols,
                          float* dst, std::size_t dst_stride);

// One ISA's micro-kernel, its register-tile shape and its packing routines (nullptr: the portable
// loops of the front end). Each element of C is one chain of multiply-adds in ascending p,
// whatever the tile's position or edge, so the blocking never changes the bits.
//
// dot_rows serves C = A B^T (+ bias) for a few rows of A (a Linear layer at batch 1), where the
// micro-kernel would first pack B transposed for only m rows: c[i * ldc + j] = (A's row i) . (B's
// row j) (+ bias[j]) for i < m, j < n, over k, both rows read in place. Its order of sums is the
// same on every ISA (gemm_dot.h: 16 interleaved partial sums of multiply-adds, then a fixed tree),
// so each SIMD variant gives the scalar reference's bits; it differs from the tiles' single chain.
struct GemmKernels {
  std::size_t mr, nr;
  void (*tile)(const GemmTile& tile);
  GemmPack pack_transposed;
  GemmPack pack_copy;
  void (*dot_rows)(const float* a, std::size_t m, std::size_t lda, const float* b, std::size_t ldb,
                   std::size_t n, std::size_t k, const float* bias, float* c, std::size_t ldc);
};

namespace scalar {
extern const GemmKernels kGemm;
}
namespace avx2 {
extern const GemmKernels kGemm;
}
namespace avx512 {
extern const GemmKernels kGemm;
}
namespace neon {
extern const GemmKernels kGemm;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const GemmKernels* gemm_kernels(Isa isa);
inline const GemmKernels& gemm_kernels() { return *gemm_kernels(selected_isa()); }

// Depth of one packed block (kc): a kc x nr panel of B stays in the 48 KB L1 while the tile loop
// sweeps A panels over it. Sums over k are split at multiples of this, for every thread count.
inline constexpr std::size_t kGemmKc = 256;

}  // namespace odyssey
