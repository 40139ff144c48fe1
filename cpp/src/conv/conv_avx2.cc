// AVX2+FMA variant, compiled with -mavx2 -mfma: 8 output columns per vector, masked loads and
// stores at the row ends.
#include <immintrin.h>

#include <cstddef>

#include "conv_direct.h"
#include "odyssey/conv.h"

namespace odyssey::avx2 {
namespace {

struct Avx2 {
  using Vec = __m256;
  static constexpr std::size_t kLanes = 8;
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

  // Lanes below n set, for maskload/maskstore.
  static __m256i first(std::size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load_first(const float* p, std::size_t n) { return _mm256_maskload_ps(p, first(n)); }
  static Vec broadcast(float f) { return _mm256_set1_ps(f); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store_first(float* p, Vec v, std::size_t n) { _mm256_maskstore_ps(p, first(n), v); }
  static float sum(Vec v) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
  }
  // y[l * stride + r] = lane l of rows[r] for r < count, l < lanes: an 8 x 8 transpose in
  // registers (pairs, quads, then halves), one masked store per channel.
  static void store_transposed(const Vec* rows, std::size_t count, float* y, std::size_t stride,
                               std::size_t lanes) {
    Vec r[8], t[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = i < count ? rows[i] : zero();
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    // r[4i + j], 128-bit half k: column 4k + j of rows 4i .. 4i+3.
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
      t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
      t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    const __m256i mask = first(count);
    for (std::size_t l = 0; l < lanes; ++l) _mm256_maskstore_ps(y + l * stride, mask, t[l]);
  }
};

}  // namespace

const ConvKernels kConv{Avx2::kLanes,
                        conv_direct::forward<Avx2>,
                        conv_direct::forward_lanes<Avx2>,
                        conv_direct::weight_grad<Avx2>,
                        conv_direct::weight_grad_lanes<Avx2>,
                        conv_direct::transpose_channels<Avx2>,
                        conv_direct::transpose_batch<Avx2>,
                        conv_direct::convolve_batch<Avx2>,
                        conv_direct::weight_grad_batch<Avx2>,
                        Avx2::kBatchGradChannels};

}  // namespace odyssey::avx2
