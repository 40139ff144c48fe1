// AVX2 variant, compiled with -mavx2 -mfma: the generic row kernels of softmax_simd.h on this ISA's
// lanes.
#include "odyssey/simd/vec_avx2.h"
#include "softmax_simd.h"

namespace odyssey::avx2 {

const SoftmaxKernels kSoftmax = simd::softmax_kernels_for<Vec>();

}  // namespace odyssey::avx2
