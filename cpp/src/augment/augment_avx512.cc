// AVX-512F variant, compiled with -mavx512f: the generic kernels of augment_simd.h on this ISA's
// lanes, sixteen output pixels at a time.
#include "augment_simd.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {

namespace {

// 32 vector registers hold a row's constants and a footprint at once: the warps inline the
// sampling of a vector of pixels into their row loops.
struct Tuning {
  static constexpr bool kInlineSampling = true;
};

}  // namespace

const AugmentKernels kAugment = simd::augment_kernels_for<Vec, Tuning>();

}  // namespace odyssey::avx512
