// AVX2+FMA variant, compiled with -mavx2 -mfma: the generic kernels of augment_simd.h on this
// ISA's lanes, eight output pixels at a time.
#include "augment_simd.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {

const AugmentKernels kAugment = simd::augment_kernels_for<Vec>();

}  // namespace odyssey::avx2
