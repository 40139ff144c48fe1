// NEON variant for AArch64: the generic kernels of augment_simd.h on this ISA's lanes, four output
// pixels at a time (NEON has no gather: the lane type loads the neighbours lane by lane).
#include "augment_simd.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {

const AugmentKernels kAugment = simd::augment_kernels_for<Vec>();

}  // namespace odyssey::neon
