// AVX2 variant, compiled with -mavx2 -mfma: the pool rows of pool_rows.h on this ISA's lanes,
// 8 outputs per step.
#include "odyssey/pool.h"
#include "odyssey/simd/vec_avx2.h"
#include "pool_rows.h"

namespace odyssey::avx2 {
namespace {

// The row end goes through the scalar reference: a masked step measured no faster at LeNet's rows
// (14 and 5 outputs, ending in 6 and 5).
struct Tuning {
  static constexpr bool kMaskedTail = false;
};

}  // namespace

const PoolKernels kPool = pool_rows::pool_kernels_for<Vec, Tuning>();

}  // namespace odyssey::avx2
