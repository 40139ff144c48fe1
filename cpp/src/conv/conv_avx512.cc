// AVX-512F variant, compiled with -mavx512f -mavx2 -mfma: 16 output columns per vector, masked
// loads and stores at the row ends.
#include <immintrin.h>

#include <cstddef>

#include "conv_direct.h"
#include "odyssey/conv.h"

namespace odyssey::avx512 {
namespace {

struct Avx512 {
  using Vec = __m512;
  static constexpr std::size_t kLanes = 16;
  // 8 x 2 accumulators + 2 inputs + 1 weight of the 32 registers.
  static constexpr int kForwardChannels = 8;
  static constexpr int kForwardVectors = 2;
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
  static constexpr int kGradTaps = 4;

  static __mmask16 first(std::size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_first(const float* p, std::size_t n) {
    return _mm512_maskz_loadu_ps(first(n), p);
  }
  static Vec broadcast(float f) { return _mm512_set1_ps(f); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_first(float* p, Vec v, std::size_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static float sum(Vec v) { return _mm512_reduce_add_ps(v); }
};

}  // namespace

const ConvKernels kConv{Avx512::kLanes, conv_direct::forward<Avx512>,
                        conv_direct::forward_lanes<Avx512>, conv_direct::weight_grad<Avx512>,
                        conv_direct::weight_grad_lanes<Avx512>};

}  // namespace odyssey::avx512
