// AVX-512F variant, compiled with -mavx512f: the generic kernels of activation_simd.h on this ISA's
// lanes.
#include "activation_simd.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {

const ActivationKernels kActivation = simd::activation_kernels_for<Vec>();

}  // namespace odyssey::avx512
