// NEON variant for AArch64: the generic updates of optimizer_simd.h on this ISA's lanes.
#include "odyssey/simd/vec_neon.h"
#include "optimizer_simd.h"

namespace odyssey::neon {

const OptimizerKernels kOptimizer = simd::optimizer_kernels_for<Vec>();

}  // namespace odyssey::neon
