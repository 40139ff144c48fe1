// AVX-512F variant, compiled with -mavx512f: the generic updates of optimizer_simd.h on this ISA's
// lanes.
#include "odyssey/simd/vec_avx512.h"
#include "optimizer_simd.h"

namespace odyssey::avx512 {

const OptimizerKernels kOptimizer = simd::optimizer_kernels_for<Vec>();

}  // namespace odyssey::avx512
