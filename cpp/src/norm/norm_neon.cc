// NEON variant for AArch64: the batch-norm kernels of norm_simd.h on this ISA's lanes.
#include "norm_simd.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {

const NormKernels kNorm = simd::norm_kernels_for<Vec>();

}  // namespace odyssey::neon
