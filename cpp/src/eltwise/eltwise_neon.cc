// NEON variant for AArch64: the generic kernels of eltwise_simd.h on this ISA's
// lanes.
#include "eltwise_simd.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {

const EltwiseKernels kEltwise = simd::eltwise_kernels_for<Vec>();

}  // namespace odyssey::neon
