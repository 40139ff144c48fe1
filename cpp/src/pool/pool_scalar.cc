// The reference 2x2 stride-2 max pooling row every SIMD variant is tested against.
#include "odyssey/pool.h"
#include "pool_rows.h"

namespace odyssey::scalar {
namespace {

void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 bool relu, float* y, std::int32_t* argmax) {
  const auto row = static_cast<std::int32_t>(in_w);
  for (std::size_t i = 0; i < out_w; ++i) {
    const float* corner = top + 2 * i;
    const std::int32_t at = top_index + 2 * static_cast<std::int32_t>(i);
    float best = corner[0];
    std::int32_t best_at = at;
    const float taps[3] = {corner[1], corner[in_w], corner[in_w + 1]};
    const std::int32_t offsets[3] = {1, row, row + 1};
    for (int t = 0; t < 3; ++t) {
      if (taps[t] > best || taps[t] != taps[t]) {
        best = taps[t];
        best_at = at + offsets[t];
      }
    }
    // relu's derivative is 0 where x <= 0; a NaN passes, as in relu_backward. A dead window's
    // relu'd values are all zeros, of which the separate max-pool keeps the first: relu(corner[0])
    // (-0.0 stays -0.0).
    const bool dead = relu && best <= 0.0f;
    y[i] = dead ? (corner[0] >= 0.0f ? corner[0] : 0.0f) : best;
    argmax[i] = dead ? -1 : best_at;
  }
}

void max_2x2_backward_row(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                          std::int32_t top_index, std::size_t in_w, float* top) {
  const auto row = static_cast<std::int32_t>(in_w);
  for (std::size_t j = 0; j < 2 * out_w; ++j) {
    const std::int32_t at = argmax[j / 2], here = top_index + static_cast<std::int32_t>(j);
    const float value = 0.0f + dy[j / 2];
    top[j] = at == here ? value : 0.0f;
    top[in_w + j] = at == here + row ? value : 0.0f;
  }
}

}  // namespace

const PoolKernels kPool{
    .max_2x2_rows = pool_rows::max_2x2_rows<max_2x2_row>,
    .max_2x2_backward_rows = pool_rows::max_2x2_backward_rows<max_2x2_backward_row>,
};

}  // namespace odyssey::scalar
