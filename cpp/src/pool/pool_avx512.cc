// AVX-512F variant, compiled with -mavx512f -mavx2 -mfma: the pool rows of pool_rows.h on this
// ISA's lanes, 16 outputs per step.
#include "odyssey/pool.h"
#include "odyssey/simd/vec_avx512.h"
#include "pool_rows.h"

namespace odyssey::avx512 {
namespace {

// The row end is one masked step: AVX-512's masked loads and stores are as cheap as plain ones.
struct Tuning {
  static constexpr bool kMaskedTail = true;
};

}  // namespace

const PoolKernels kPool = pool_rows::pool_kernels_for<Vec, Tuning>();

}  // namespace odyssey::avx512
