// AVX-512F variant, compiled with -mavx512f: the generic row kernels of softmax_simd.h on this
// ISA's lanes.
#include "odyssey/simd/vec_avx512.h"
#include "softmax_simd.h"

namespace odyssey::avx512 {

const SoftmaxKernels kSoftmax = simd::softmax_kernels_for<Vec>();

}  // namespace odyssey::avx512
