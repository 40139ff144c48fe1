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
  // y[l * stride + r] = lane l of rows[r] for r < count, l < lanes: a 16 x 16 transpose in
  // registers (pairs, quads, then 128-bit blocks), one masked store per channel.
  static void store_transposed(const Vec* rows, std::size_t count, float* y, std::size_t stride,
                               std::size_t lanes) {
    Vec r[16], t[16];
    for (std::size_t i = 0; i < 16; ++i) r[i] = i < count ? rows[i] : zero();
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // r[4i + j], 128-bit block k: column 4k + j of rows 4i .. 4i+3.
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      const Vec even_low = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
      const Vec even_high = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
      const Vec odd_low = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
      const Vec odd_high = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
      t[j] = _mm512_shuffle_f32x4(even_low, even_high, 0x88);
      t[8 + j] = _mm512_shuffle_f32x4(even_low, even_high, 0xDD);
      t[4 + j] = _mm512_shuffle_f32x4(odd_low, odd_high, 0x88);
      t[12 + j] = _mm512_shuffle_f32x4(odd_low, odd_high, 0xDD);
    }
    for (std::size_t l = 0; l < lanes; ++l) store_first(y + l * stride, t[l], count);
  }
};

}  // namespace

const ConvKernels kConv{Avx512::kLanes,
                        conv_direct::forward<Avx512>,
                        conv_direct::forward_lanes<Avx512>,
                        conv_direct::weight_grad<Avx512>,
                        conv_direct::weight_grad_lanes<Avx512>,
                        conv_direct::transpose_channels<Avx512>,
                        conv_direct::transpose_batch<Avx512>,
                        conv_direct::convolve_batch<Avx512>,
                        conv_direct::weight_grad_batch<Avx512>,
                        Avx512::kBatchGradChannels};

}  // namespace odyssey::avx512
