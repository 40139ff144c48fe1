// AVX2 variant, compiled with -mavx2 -mfma: the generic updates of optimizer_simd.h on this ISA's
// lanes.
#include "odyssey/simd/vec_avx2.h"
#include "optimizer_simd.h"

namespace odyssey::avx2 {

const OptimizerKernels kOptimizer = simd::optimizer_kernels_for<Vec>();

}  // namespace odyssey::avx2
