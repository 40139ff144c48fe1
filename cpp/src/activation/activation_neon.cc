// NEON variant for AArch64: the generic kernels of activation_simd.h on this ISA's lanes.
#include "activation_simd.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {

const ActivationKernels kActivation = simd::activation_kernels_for<Vec>();

}  // namespace odyssey::neon
