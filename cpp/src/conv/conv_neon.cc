// NEON variant for AArch64: 4 output columns per vector; the row ends go through a small
// zero-filled buffer, as NEON has no masked loads or stores.
#include <arm_neon.h>

#include <cstddef>

#include "conv_direct.h"
#include "odyssey/conv.h"

namespace odyssey::neon {
namespace {

struct Neon {
  using Vec = float32x4_t;
  static constexpr std::size_t kLanes = 4;
  // 6 x 4 accumulators + 4 inputs + 1 weight of the 32 registers.
  static constexpr int kForwardChannels = 6;
  static constexpr int kForwardVectors = 4;
  // Channels per block when two output rows share each input load: 2 rows x 3 x 4 accumulators + 4
  // inputs + 1 weight.
  static constexpr int kPairChannels = 3;
  // Channels in the lanes: 12 columns x 2 vectors of channels.
  static constexpr int kLanesColumns = 12;
  static constexpr int kLanesVectors = 2;
  // Channels in the lanes, sliding along a kernel row: 12 accumulators + 5 weights + 1 input.
  static constexpr int kSlideColumns = 12;
  // 4 x 4 accumulators + 4 dy + 1 input.
  static constexpr int kGradChannels = 4;
  // Weight gradient with channels in the lanes: 12 taps x 2 vectors of channels.
  static constexpr int kGradLanesTaps = 12;
  static constexpr int kGradLanesVectors = 2;
  // Kernel rows per sliding weight-gradient block: 2 x 5 accumulators + 2 x 5 inputs + 1 dy.
  static constexpr int kGradSlideRows = 2;
  static constexpr int kGradTaps = 4;
  // Samples in the lanes: 16 output columns + 5 weights + 1 input; 4 x 5 weight-gradient
  // accumulators + 5 inputs + 1 dy.
  static constexpr int kBatchColumns = 16;
  static constexpr int kBatchGradChannels = 4;

  static Vec zero() { return vdupq_n_f32(0.0f); }
  static Vec load(const float* p) { return vld1q_f32(p); }
  // n is at most kLanes; the clamp also tells the compiler so.
  static std::size_t clamp(std::size_t n) { return n < kLanes ? n : kLanes; }
  static Vec load_first(const float* p, std::size_t n) {
    float lanes[kLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (std::size_t i = 0; i < clamp(n); ++i) lanes[i] = p[i];
    return vld1q_f32(lanes);
  }
  static Vec broadcast(float f) { return vdupq_n_f32(f); }
  static Vec fma(Vec a, Vec b, Vec c) { return vfmaq_f32(c, a, b); }
  static Vec add(Vec a, Vec b) { return vaddq_f32(a, b); }
  static void store(float* p, Vec v) { vst1q_f32(p, v); }
  static void store_first(float* p, Vec v, std::size_t n) {
    float lanes[kLanes];
    vst1q_f32(lanes, v);
    for (std::size_t i = 0; i < clamp(n); ++i) p[i] = lanes[i];
  }
  static float sum(Vec v) { return vaddvq_f32(v); }
  // y[l * stride + r] = lane l of rows[r] for r < count, l < lanes: a 4 x 4 transpose in
  // registers, one partial store per channel.
  static void store_transposed(const Vec* rows, std::size_t count, float* y, std::size_t stride,
                               std::size_t lanes) {
    Vec r[4];
    for (std::size_t i = 0; i < 4; ++i) r[i] = i < count ? rows[i] : zero();
    const float32x4x2_t upper = vtrnq_f32(r[0], r[1]), lower = vtrnq_f32(r[2], r[3]);
    const Vec columns[4] = {vcombine_f32(vget_low_f32(upper.val[0]), vget_low_f32(lower.val[0])),
                            vcombine_f32(vget_low_f32(upper.val[1]), vget_low_f32(lower.val[1])),
                            vcombine_f32(vget_high_f32(upper.val[0]), vget_high_f32(lower.val[0])),
                            vcombine_f32(vget_high_f32(upper.val[1]), vget_high_f32(lower.val[1]))};
    for (std::size_t l = 0; l < clamp(lanes); ++l) store_first(y + l * stride, columns[l], count);
  }
};

}  // namespace

const ConvKernels kConv{Neon::kLanes,
                        conv_direct::forward<Neon>,
                        conv_direct::forward_lanes<Neon>,
                        conv_direct::weight_grad<Neon>,
                        conv_direct::weight_grad_lanes<Neon>,
                        conv_direct::transpose_channels<Neon>,
                        conv_direct::transpose_batch<Neon>,
                        conv_direct::convolve_batch<Neon>,
                        conv_direct::weight_grad_batch<Neon>,
                        Neon::kBatchGradChannels};

}  // namespace odyssey::neon
