// AVX-512F variant, compiled with -mavx512f: the batch-norm kernels of norm_simd.h on this ISA's
// lanes.
#include "norm_simd.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {

const NormKernels kNorm = simd::norm_kernels_for<Vec>();

}  // namespace odyssey::avx512
