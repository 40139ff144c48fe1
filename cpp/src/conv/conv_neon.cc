// NEON variant for AArch64: 4 output columns per vector; the row ends go through a small
// zero-filled buffer, as NEON has no masked loads or stores.
#include "conv_kernels_for.h"
#include "odyssey/conv.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {
namespace {

// This ISA's register blocking over its lanes.
struct Conv : Vec {
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
};

}  // namespace

const ConvKernels kConv = conv_direct::kernels_for<Conv>();

}  // namespace odyssey::neon
