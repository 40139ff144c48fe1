// AVX2 variant, compiled with -mavx2 -mfma: the generic kernels of activation_simd.h on this ISA's
// lanes.
#include "activation_simd.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {

const ActivationKernels kActivation = simd::activation_kernels_for<Vec>();

}  // namespace odyssey::avx2
