// Winograd F(4x4, 3x3) front end: the weights are transformed once per call, then each task takes a
// group of samples in lanes, transforms a run of its tiles, runs one sgemm per transformed element
// (36 of them, output channels x tiles, summed over the input channels) and transforms the products
// back into the output.
#include "conv_winograd.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_scratch.h"
#include "odyssey/eltwise.h"
#include "odyssey/gemm.h"
#include "odyssey/parallel.h"

namespace odyssey::conv_winograd {
namespace {

thread_local conv_scratch::ScratchBuffer t_input;
thread_local conv_scratch::ScratchBuffer t_transformed;
thread_local conv_scratch::ScratchBuffer t_products;
thread_local conv_scratch::ScratchBuffer t_gradient;

// Tiles times lanes per sgemm: wide enough for its register tiles, small enough that a run's
// transformed input and products stay in L2.
inline constexpr std::size_t kRunColumns = 128;
// 3x3 kernels per task of the weight transform.
inline constexpr std::size_t kWeightGrain = 1024;

}  // namespace

bool fits(std::size_t h, std::size_t w, std::size_t pad_h, std::size_t pad_w) {
  if (conv_kernels().transpose_batch == nullptr || pad_h > 2 || pad_w > 2) return false;
  if (h + 2 * pad_h < 3 || w + 2 * pad_w < 3) return false;
  return (h + 2 * pad_h - 2) % 4 == 0 && (w + 2 * pad_w - 2) % 4 == 0;
}

void correlate(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
               std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
               const float* w33, const float* bias, float* y) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes;
  const std::size_t rows = h + 2 * pad_h, columns = w + 2 * pad_w;
  const std::size_t out_h = rows - 2, out_w = columns - 2;
  const std::size_t tiles_w = out_w / 4, tiles = out_h / 4 * tiles_w;
  const std::size_t run = std::max<std::size_t>(1, kRunColumns / lanes);
  const std::size_t x_sample = channels * h * w, y_sample = out_channels * out_h * out_w;
  const std::size_t input_size = channels * rows * columns * lanes;
  // u[(e * out_channels + oc) * channels + c] = element e of G g G^T, g = w33[oc][c].
  const std::size_t filters = out_channels * channels;
  std::vector<float> u(36 * filters);
  parallel_for(filters, kWeightGrain, [&](std::size_t begin, std::size_t end) {
    kernels.winograd_weights(w33 + begin * 9, end - begin, u.data() + begin, filters);
  });
  parallel_for(num_chunks(batch, lanes), 1, [&](std::size_t begin, std::size_t end) {
    float* x_t = t_input.get(input_size);
    float* v = t_transformed.get(36 * channels * run * lanes);
    float* m = t_products.get(36 * out_channels * run * lanes);
    for (std::size_t group = begin; group < end; ++group) {
      const std::size_t first = group * lanes, samples = std::min(lanes, batch - first);
      // The padding stays zero; the transpose writes the interior and zeros past `samples`.
      if (pad_h != 0 || pad_w != 0) std::memset(x_t, 0, input_size * sizeof(float));
      kernels.transpose_batch(x + first * x_sample, x_sample, samples, channels, h, w, pad_h, pad_w,
                              x_t);
      for (std::size_t tile = 0; tile < tiles; tile += run) {
        const std::size_t count = std::min(run, tiles - tile), n = count * lanes;
        kernels.winograd_input({channels, rows, columns, tiles_w, tile, count}, x_t, v);
        for (std::size_t e = 0; e < 36; ++e) {
          sgemm(Trans::kNo, Trans::kNo, out_channels, n, channels, 1.0f,
                u.data() + e * out_channels * channels, channels, v + e * channels * n, n, 0.0f,
                m + e * out_channels * n, n);
        }
        kernels.winograd_output({out_channels, rows, columns, tiles_w, tile, count}, m, bias,
                                samples, y + first * y_sample, y_sample);
      }
    }
  });
}

void weight_grad(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
                 std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
                 const float* dy, float* dw, float* db) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes;
  const std::size_t rows = h + 2 * pad_h, columns = w + 2 * pad_w;
  const std::size_t out_h = rows - 2, out_w = columns - 2, plane = out_h * out_w;
  const std::size_t tiles_w = out_w / 4, tiles = out_h / 4 * tiles_w;
  const std::size_t run = std::max<std::size_t>(1, kRunColumns / lanes);
  const std::size_t x_sample = channels * h * w, dy_sample = out_channels * plane;
  const std::size_t input_size = channels * rows * columns * lanes;
  const std::size_t filters = out_channels * channels, partial_size = 36 * filters;
  const std::size_t groups = num_chunks(batch, lanes);
  const auto plane_sum = eltwise_kernels().sum;
  std::vector<float> partials(groups * partial_size, 0.0f), sums(batch * out_channels);
  parallel_for(groups, 1, [&](std::size_t begin, std::size_t end) {
    float* x_t = t_input.get(input_size);
    float* dy_t = t_gradient.get(dy_sample * lanes);
    float* v = t_transformed.get(36 * channels * run * lanes);
    float* lifted = t_products.get(36 * out_channels * run * lanes);
    for (std::size_t group = begin; group < end; ++group) {
      const std::size_t first = group * lanes, samples = std::min(lanes, batch - first);
      if (pad_h != 0 || pad_w != 0) std::memset(x_t, 0, input_size * sizeof(float));
      kernels.transpose_batch(x + first * x_sample, x_sample, samples, channels, h, w, pad_h, pad_w,
                              x_t);
      kernels.transpose_batch(dy + first * dy_sample, dy_sample, samples, 1, 1, dy_sample, 0, 0,
                              dy_t);
      float* partial = partials.data() + group * partial_size;
      for (std::size_t tile = 0; tile < tiles; tile += run) {
        const std::size_t count = std::min(run, tiles - tile), n = count * lanes;
        kernels.winograd_input({channels, rows, columns, tiles_w, tile, count}, x_t, v);
        kernels.winograd_lift({out_channels, rows, columns, tiles_w, tile, count}, dy_t, lifted);
        for (std::size_t e = 0; e < 36; ++e) {
          sgemm(Trans::kNo, Trans::kYes, out_channels, channels, n, 1.0f,
                lifted + e * out_channels * n, n, v + e * channels * n, n, 1.0f,
                partial + e * filters, channels);
        }
      }
      if (db == nullptr) continue;
      // The selected ISA's vector sum: a plain loop is one dependent add after another.
      for (std::size_t s = first; s < first + samples; ++s) {
        for (std::size_t oc = 0; oc < out_channels; ++oc) {
          sums[s * out_channels + oc] =
              static_cast<float>(plane_sum(dy + s * dy_sample + oc * plane, plane));
        }
      }
    }
  });
  float* total = partials.data();
  for (std::size_t group = 1; group < groups; ++group) {
    const float* partial = partials.data() + group * partial_size;
    for (std::size_t i = 0; i < partial_size; ++i) total[i] += partial[i];
  }
  parallel_for(filters, kWeightGrain, [&](std::size_t begin, std::size_t end) {
    kernels.winograd_weights_back(total + begin, end - begin, filters, dw + begin * 9);
  });
  if (db == nullptr) return;
  for (std::size_t oc = 0; oc < out_channels; ++oc) {
    float sum = 0.0f;
    for (std::size_t s = 0; s < batch; ++s) sum += sums[s * out_channels + oc];
    db[oc] = sum;
  }
}

}  // namespace odyssey::conv_winograd
