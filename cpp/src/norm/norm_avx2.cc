// AVX2 variant, compiled with -mavx2 -mfma: the batch-norm kernels of norm_simd.h on this ISA's
// lanes.
#include "norm_simd.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {

const NormKernels kNorm = simd::norm_kernels_for<Vec>();

}  // namespace odyssey::avx2
