// NEON variant for AArch64: 4 outputs per step, even and odd input columns separated by vld2q;
// the row end goes through the scalar form.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#include "odyssey/pool.h"
#include "pool_rows.h"

namespace odyssey::neon {
namespace {

// Keeps (best, index) or takes (v, v_index) where v > best or v is NaN, lane by lane.
void take_larger(float32x4_t& best, int32x4_t& index, float32x4_t v, int32x4_t v_index) {
  const uint32x4_t take = vorrq_u32(vcgtq_f32(v, best), vmvnq_u32(vceqq_f32(v, v)));
  best = vbslq_f32(take, v, best);
  index = vbslq_s32(take, v_index, index);
}

void max_2x2_row(const float* top, std::size_t in_w, std::size_t out_w, std::int32_t top_index,
                 bool relu, float* y, std::int32_t* argmax) {
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
    if (relu) {  // dead where best <= 0 (false for NaN)
      const uint32x4_t dead = vcleq_f32(best, vdupq_n_f32(0.0f));
      best = vbslq_f32(dead, vdupq_n_f32(0.0f), best);
      index = vbslq_s32(dead, vdupq_n_s32(-1), index);
    }
    vst1q_f32(y + i, best);
    vst1q_s32(argmax + i, index);
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_rows(top + 2 * i, in_w, out_w - i, 1,
                               top_index + 2 * static_cast<std::int32_t>(i), relu, y + i,
                               argmax + i);
  }
}

// Where the lanes of `at` equal those of `here`, g; elsewhere 0.
float32x4_t where_equal(int32x4_t at, int32x4_t here, float32x4_t g) {
  return vreinterpretq_f32_u32(vandq_u32(vceqq_s32(at, here), vreinterpretq_u32_f32(g)));
}

// 4 outputs per step: their gradients and argmaxes, each duplicated into the two lanes of its
// window's columns by zipping with themselves, are compared with the 8 columns' plane indices.
void max_2x2_backward_row(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                          std::int32_t top_index, std::size_t in_w, float* top) {
  const std::int32_t first_columns[4] = {0, 1, 2, 3};
  const int32x4_t columns = vld1q_s32(first_columns);
  const int32x4_t four = vdupq_n_s32(4), row = vdupq_n_s32(static_cast<std::int32_t>(in_w));
  float* bottom = top + in_w;
  std::size_t i = 0;
  for (; i + 4 <= out_w; i += 4) {
    const float32x4_t g = vaddq_f32(vdupq_n_f32(0.0f), vld1q_f32(dy + i));
    const int32x4_t at = vld1q_s32(argmax + i);
    const float32x4x2_t g2 = vzipq_f32(g, g);
    const int32x4x2_t at2 = vzipq_s32(at, at);
    const int32x4_t here =
        vaddq_s32(vdupq_n_s32(top_index + 2 * static_cast<std::int32_t>(i)), columns);
    const int32x4_t here_high = vaddq_s32(here, four);
    vst1q_f32(top + 2 * i, where_equal(at2.val[0], here, g2.val[0]));
    vst1q_f32(top + 2 * i + 4, where_equal(at2.val[1], here_high, g2.val[1]));
    vst1q_f32(bottom + 2 * i, where_equal(at2.val[0], vaddq_s32(here, row), g2.val[0]));
    vst1q_f32(bottom + 2 * i + 4, where_equal(at2.val[1], vaddq_s32(here_high, row), g2.val[1]));
  }
  if (i < out_w) {
    scalar::kPool.max_2x2_backward_rows(dy + i, argmax + i, out_w - i, 1,
                                        top_index + 2 * static_cast<std::int32_t>(i), in_w,
                                        top + 2 * i);
  }
}

}  // namespace

const PoolKernels kPool{
    .max_2x2_rows = pool_rows::max_2x2_rows<max_2x2_row>,
    .max_2x2_backward_rows = pool_rows::max_2x2_backward_rows<max_2x2_backward_row>,
};

}  // namespace odyssey::neon
