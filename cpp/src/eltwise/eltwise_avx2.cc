// AVX2 variant, compiled with -mavx2 -mfma: the generic kernels of eltwise_simd.h on this ISA's
// lanes.
#include "eltwise_simd.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {

const EltwiseKernels kEltwise = simd::eltwise_kernels_for<Vec>();

}  // namespace odyssey::avx2
