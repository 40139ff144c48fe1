// AVX-512F variant, compiled with -mavx512f: the generic kernels of eltwise_simd.h on this ISA's
// lanes.
#include "eltwise_simd.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {

const EltwiseKernels kEltwise = simd::eltwise_kernels_for<Vec>();

}  // namespace odyssey::avx512
