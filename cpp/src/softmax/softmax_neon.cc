// NEON variant for AArch64: the generic row kernels of softmax_simd.h on this ISA's lanes.
#include "odyssey/simd/vec_neon.h"
#include "softmax_simd.h"

namespace odyssey::neon {

const SoftmaxKernels kSoftmax = simd::softmax_kernels_for<Vec>();

}  // namespace odyssey::neon
