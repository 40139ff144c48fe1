// AVX-512F variant, compiled with -mavx512f: the generic kernels of augment_simd.h on this ISA's
// lanes, sixteen output pixels at a time.
#include "augment_simd.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {

const AugmentKernels kAugment = simd::augment_kernels_for<Vec>();

}  // namespace odyssey::avx512
