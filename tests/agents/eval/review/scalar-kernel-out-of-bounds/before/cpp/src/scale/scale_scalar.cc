// The reference every SIMD variant of the scale family is tested against.
#include "odyssey/scale.h"

namespace odyssey::scalar {
namespace {

void scale(const float* x, float s, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * s;
}

}  // namespace

const ScaleKernels kScale{.scale = scale};

}  // namespace odyssey::scalar
