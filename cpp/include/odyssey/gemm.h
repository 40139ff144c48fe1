// Single-precision matrix multiply in the BLIS/Goto structure: packed panels of A and B, cache
// blocking, and a register-blocked micro-kernel per ISA.
#pragma once

#include <cstddef>

namespace odyssey {

enum class Trans { kNo, kYes };

// C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is m x k: A is stored m x k with row
// stride lda >= k, or for Trans::kYes k x m with lda >= m; likewise op(B) is k x n. With beta == 0,
// C is written without being read (NaNs in it do not propagate), as in BLAS. Split over the thread
// pool along blocks of C whose boundaries do not depend on the thread count, and never along k, so
// the bits are the same for every thread count. A call from inside a parallel_for body runs
// serially.
void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc);

}  // namespace odyssey
