// AVX2+FMA variant, compiled with -mavx2 -mfma: 8 output columns per vector, masked loads and
// stores at the row ends.
#include "conv_kernels_for.h"
#include "odyssey/conv.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {
namespace {

// This ISA's register blocking over its lanes.
struct Conv : Vec {
  // 6 x 2 accumulators + 2 inputs + 1 weight of the 16 registers.
  static constexpr int kForwardChannels = 6;
  static constexpr int kForwardVectors = 2;
  // Channels per block when two output rows share each input load: 2 rows x 3 x 2 accumulators + 2
  // inputs + 1 weight of the 16 registers.
  static constexpr int kPairChannels = 3;
  // Channels in the lanes: 6 columns x 2 vectors of channels.
  static constexpr int kLanesColumns = 6;
  static constexpr int kLanesVectors = 2;
  // Channels in the lanes, sliding along a kernel row: 8 accumulators + 5 weights + 1 input of the
  // 16 registers.
  static constexpr int kSlideColumns = 8;
  // 3 x 3 accumulators + 3 dy + 1 input.
  static constexpr int kGradChannels = 3;
  // Weight gradient with channels in the lanes: 6 taps x 2 vectors of channels.
  static constexpr int kGradLanesTaps = 6;
  static constexpr int kGradLanesVectors = 2;
  // Kernel rows per sliding weight-gradient block: 5 accumulators + 5 inputs + 1 dy of the 16
  // registers.
  static constexpr int kGradSlideRows = 1;
  static constexpr int kGradTaps = 3;
  // Samples in the lanes: 8 output columns + 5 weights + 1 input; 2 x 5 weight-gradient
  // accumulators + 5 inputs + 1 dy of the 16 registers.
  static constexpr int kBatchColumns = 8;
  static constexpr int kBatchGradChannels = 2;
};

}  // namespace

const ConvKernels kConv = conv_direct::kernels_for<Conv>();

}  // namespace odyssey::avx2
