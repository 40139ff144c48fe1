// AVX2+FMA variant, compiled with -mavx2 -mfma: the generic kernels of augment_simd.h on this
// ISA's lanes, eight output pixels at a time.
#include "augment_simd.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {

namespace {

// 16 vector registers: the warps call the sampling of a vector of pixels (inlined into the row
// loops, they measured 2-5 % slower).
struct Tuning {
  static constexpr bool kInlineSampling = false;
};

}  // namespace

const AugmentKernels kAugment = simd::augment_kernels_for<Vec, Tuning>();

}  // namespace odyssey::avx2
