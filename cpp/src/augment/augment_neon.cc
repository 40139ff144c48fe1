// NEON variant for AArch64: the generic kernels of augment_simd.h on this ISA's lanes, four output
// pixels at a time (NEON has no gather: the lane type loads the neighbours lane by lane).
#include "augment_simd.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {

namespace {

// NEON gathers lane by lane through memory: the warps call the sampling of a vector of
// pixels, as on AVX2.
struct Tuning {
  static constexpr bool kInlineSampling = false;
};

}  // namespace

const AugmentKernels kAugment = simd::augment_kernels_for<Vec, Tuning>();

}  // namespace odyssey::neon
