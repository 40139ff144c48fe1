// AVX-512F variant, compiled with -mavx512f -mavx2 -mfma: 16 output columns per vector, masked
// loads and stores at the row ends.
#include "conv_kernels_for.h"
#include "odyssey/conv.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {
namespace {

// This ISA's register blocking over its lanes.
struct Conv : Vec {
  // 8 x 2 accumulators + 2 inputs + 1 weight of the 32 registers.
  static constexpr int kForwardChannels = 8;
  static constexpr int kForwardVectors = 2;
  // Channels per block when two output rows share each input load: 2 rows x 6 x 2 accumulators + 2
  // inputs + 1 weight.
  static constexpr int kPairChannels = 6;
  // Channels in the lanes: 12 columns x 2 vectors of channels.
  static constexpr int kLanesColumns = 12;
  static constexpr int kLanesVectors = 2;
  // Channels in the lanes, sliding along a kernel row: 12 accumulators + 5 weights + 1 input.
  static constexpr int kSlideColumns = 12;
  // 6 x 3 accumulators + 6 dy + 1 input.
  static constexpr int kGradChannels = 6;
  // Weight gradient with channels in the lanes: 12 taps x 2 vectors of channels.
  static constexpr int kGradLanesTaps = 12;
  static constexpr int kGradLanesVectors = 2;
  // Kernel rows per sliding weight-gradient block: 3 x 5 accumulators + 3 x 5 inputs + 1 dy.
  static constexpr int kGradSlideRows = 3;
  static constexpr int kGradTaps = 3;
  // Samples in the lanes: 16 output columns + 5 weights + 1 input; 4 x 5 weight-gradient
  // accumulators + 5 inputs + 1 dy.
  static constexpr int kBatchColumns = 16;
  static constexpr int kBatchGradChannels = 4;
};

}  // namespace

const ConvKernels kConv = conv_direct::kernels_for<Conv>();

}  // namespace odyssey::avx512
