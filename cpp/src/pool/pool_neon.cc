// NEON variant for AArch64: 4 outputs per step, even and odd input columns separated by vld2q;
// the row end goes through the scalar form.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"

namespace odyssey::neon {
namespace {

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
void take_larger(float32x4_t& best, int32x4_t& index, float32x4_t v, int32x4_t v_index) {
  const uint32x4_t take = vorrq_u32(vcgtq_f32(v, best), vmvnq_u32(vceqq_f32(v, v)));
  best = vbslq_f32(take, v, best);
  index = vbslq_s32(take, v_index, index);
}

void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 float* y, std::int32_t* argmax) {
  const std::int32_t columns[4] = {0, 2, 4, 6};
  const int32x4_t even_columns = vld1q_s32(columns);
  const int32x4_t one = vdupq_n_s32(1), row = vdupq_n_s32(static_cast<std::int32_t>(in_w));
  const float* bottom = top + in_w;
  std::size_t i = 0;
  for (; i + 4 <= out_w; i += 4) {
    const float32x4x2_t t = vld2q_f32(top + 2 * i), b = vld2q_f32(bottom + 2 * i);
    const int32x4_t at =
        vaddq_s32(vdupq_n_s32(top_index + 2 * static_cast<std::int32_t>(i)), even_columns);
    float32x4_t best = t.val[0];
    int32x4_t index = at;
    take_larger(best, index, t.val[1], vaddq_s32(at, one));
    take_larger(best, index, b.val[0], vaddq_s32(at, row));
    take_larger(best, index, b.val[1], vaddq_s32(vaddq_s32(at, row), one));
    vst1q_f32(y + i, best);
    vst1q_s32(argmax + i, index);
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_row(top + 2 * i, in_w, out_w - i,
                              top_index + 2 * static_cast<std::int32_t>(i), y + i, argmax + i);
  }
}

}  // namespace

const PoolKernels kPool{max_2x2_row};

}  // namespace odyssey::neon
