// NEON variant for AArch64: the pool rows of pool_rows.h on this ISA's lanes, 4 outputs per
// step.
#include "odyssey/pool.h"
#include "odyssey/simd/vec_neon.h"
#include "pool_rows.h"

namespace odyssey::neon {
namespace {

// The row end (at most 3 outputs) goes through the scalar reference: NEON has no masked loads
// and stores.
struct Tuning {
  static constexpr bool kMaskedTail = false;
};

}  // namespace

const PoolKernels kPool = pool_rows::pool_kernels_for<Vec, Tuning>();

}  // namespace odyssey::neon
