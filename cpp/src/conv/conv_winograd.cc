// Winograd F(4x4, 3x3) front end: the weights are transformed once per call, then each task takes a
// group of samples in lanes and a band of its tiles, transposes the input rows the band reads,
// and, a run of tiles at a time, transforms them, runs one sgemm per transformed element (36 of
// them, output channels x tiles, summed over the input channels) and transforms the products back
// into the output (or, for the weight gradient, sums the products of transformed input and output
// gradient over the run).
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
// Tasks a pass is split into at least (as far as it has runs of tiles), whatever the batch: a
// single group of samples splits its tiles into bands. A constant, so the tasks (and the weight
// gradient's partials) depend on the shape only.
inline constexpr std::size_t kMinTasks = 4;
// The largest transposed input or output gradient of a group of samples.
inline constexpr std::size_t kMaxGroupBytes = std::size_t{16} << 20;

// The geometry of a pass: padded input planes of rows x columns, 4x4 output tiles, runs of
// tiles per sgemm, and tasks of one group of samples and a band of runs.
struct Plan {
  std::size_t rows, columns, out_h, out_w, tiles_w, tiles, run;
  std::size_t groups, band_tiles, bands;

  Plan(std::size_t batch, std::size_t h, std::size_t w, std::size_t pad_h, std::size_t pad_w,
       std::size_t lanes)
      : rows(h + 2 * pad_h), columns(w + 2 * pad_w), out_h(rows - 2), out_w(columns - 2) {
    tiles_w = out_w / 4;
    tiles = out_h / 4 * tiles_w;
    run = std::max<std::size_t>(1, kRunColumns / lanes);
    groups = num_chunks(batch, lanes);
    const std::size_t runs = num_chunks(tiles, run);
    const std::size_t wanted = std::min(runs, num_chunks(kMinTasks, groups));
    band_tiles = num_chunks(runs, wanted) * run;
    bands = num_chunks(tiles, band_tiles);
  }
  std::size_t tasks() const { return groups * bands; }
  std::size_t band_begin(std::size_t task) const { return task % bands * band_tiles; }
  std::size_t band_end(std::size_t task) const {
    return std::min(tiles, band_begin(task) + band_tiles);
  }
  // The padded input rows [first, end) that tiles [begin, end) read.
  std::size_t first_row(std::size_t begin) const { return 4 * (begin / tiles_w); }
  std::size_t end_row(std::size_t end) const { return 4 * ((end - 1) / tiles_w) + 6; }
};

// Padded rows [r0, r1) of `planes` planes of h x w of `samples` samples (sample l at
// src + l * sample) into x_t (planes, h + 2 pad_h, w + 2 pad_w, lanes), zeros in the padding and
// in the lanes past `samples`.
void transpose_rows(const float* src, std::size_t sample, std::size_t samples, std::size_t planes,
                    std::size_t h, std::size_t w, std::size_t pad_h, std::size_t pad_w,
                    std::size_t r0, std::size_t r1, float* x_t) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes, rows = h + 2 * pad_h, row = (w + 2 * pad_w) * lanes;
  // The input rows inside the band.
  const std::size_t i0 = std::max(r0, pad_h) - pad_h;
  const std::size_t i1 = std::min(r1, pad_h + h) > pad_h ? std::min(r1, pad_h + h) - pad_h : 0;
  for (std::size_t p = 0; p < planes; ++p) {
    float* plane = x_t + p * rows * row;
    if (pad_h != 0 || pad_w != 0) std::memset(plane + r0 * row, 0, (r1 - r0) * row * sizeof(float));
    if (i1 > i0) {
      kernels.transpose_batch(src + (p * h + i0) * w, sample, samples, 1, i1 - i0, w, 0, pad_w,
                              plane + (pad_h + i0) * row);
    }
  }
}

}  // namespace

bool fits(std::size_t channels, std::size_t h, std::size_t w, std::size_t out_channels,
          std::size_t pad_h, std::size_t pad_w) {
  if (conv_kernels().transpose_batch == nullptr || pad_h > 2 || pad_w > 2) return false;
  const std::size_t rows = h + 2 * pad_h, columns = w + 2 * pad_w;
  if (rows < 3 || columns < 3 || (rows - 2) % 4 != 0 || (columns - 2) % 4 != 0) return false;
  const std::size_t planes =
      std::max(channels * rows * columns, out_channels * (rows - 2) * (columns - 2));
  return planes * conv_kernels().lanes * sizeof(float) <= kMaxGroupBytes;
}

void correlate(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
               std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
               const float* w33, const float* bias, float* y) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes;
  const Plan plan(batch, h, w, pad_h, pad_w, lanes);
  const std::size_t x_sample = channels * h * w, y_sample = out_channels * plan.out_h * plan.out_w;
  // u[(e * out_channels + oc) * channels + c] = element e of G g G^T, g = w33[oc][c].
  const std::size_t filters = out_channels * channels;
  std::vector<float> u(36 * filters);
  parallel_for(filters, kWeightGrain, [&](std::size_t begin, std::size_t end) {
    kernels.winograd_weights(w33 + begin * 9, end - begin, u.data() + begin, filters);
  });
  parallel_for(plan.tasks(), 1, [&](std::size_t task_begin, std::size_t task_end) {
    float* x_t = t_input.get(channels * plan.rows * plan.columns * lanes);
    float* v = t_transformed.get(36 * channels * plan.run * lanes);
    float* m = t_products.get(36 * out_channels * plan.run * lanes);
    for (std::size_t task = task_begin; task < task_end; ++task) {
      const std::size_t first = task / plan.bands * lanes, samples = std::min(lanes, batch - first);
      const std::size_t begin = plan.band_begin(task), end = plan.band_end(task);
      transpose_rows(x + first * x_sample, x_sample, samples, channels, h, w, pad_h, pad_w,
                     plan.first_row(begin), plan.end_row(end), x_t);
      for (std::size_t tile = begin; tile < end; tile += plan.run) {
        const std::size_t count = std::min(plan.run, end - tile), n = count * lanes;
        kernels.winograd_input({channels, plan.rows, plan.columns, plan.tiles_w, tile, count}, x_t,
                               v);
        for (std::size_t e = 0; e < 36; ++e) {
          sgemm(Trans::kNo, Trans::kNo, out_channels, n, channels, 1.0f,
                u.data() + e * out_channels * channels, channels, v + e * channels * n, n, 0.0f,
                m + e * out_channels * n, n);
        }
        kernels.winograd_output({out_channels, plan.rows, plan.columns, plan.tiles_w, tile, count},
                                m, bias, samples, y + first * y_sample, y_sample);
      }
    }
  });
}

void weight_grad(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
                 std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
                 const float* dy, float* dw, float* db) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes;
  const Plan plan(batch, h, w, pad_h, pad_w, lanes);
  const std::size_t plane = plan.out_h * plan.out_w;
  const std::size_t x_sample = channels * h * w, dy_sample = out_channels * plane;
  const std::size_t filters = out_channels * channels, partial_size = 36 * filters;
  const auto plane_sum = eltwise_kernels().sum;
  std::vector<float> partials(plan.tasks() * partial_size, 0.0f), sums(batch * out_channels);
  parallel_for(plan.tasks(), 1, [&](std::size_t task_begin, std::size_t task_end) {
    float* x_t = t_input.get(channels * plan.rows * plan.columns * lanes);
    float* dy_t = t_gradient.get(dy_sample * lanes);
    float* v = t_transformed.get(36 * channels * plan.run * lanes);
    float* lifted = t_products.get(36 * out_channels * plan.run * lanes);
    for (std::size_t task = task_begin; task < task_end; ++task) {
      const std::size_t first = task / plan.bands * lanes, samples = std::min(lanes, batch - first);
      const std::size_t begin = plan.band_begin(task), end = plan.band_end(task);
      transpose_rows(x + first * x_sample, x_sample, samples, channels, h, w, pad_h, pad_w,
                     plan.first_row(begin), plan.end_row(end), x_t);
      // The output-gradient rows of the band's tiles, unpadded.
      transpose_rows(dy + first * dy_sample, dy_sample, samples, out_channels, plan.out_h,
                     plan.out_w, 0, 0, plan.first_row(begin), plan.end_row(end) - 2, dy_t);
      float* partial = partials.data() + task * partial_size;
      for (std::size_t tile = begin; tile < end; tile += plan.run) {
        const std::size_t count = std::min(plan.run, end - tile), n = count * lanes;
        kernels.winograd_input({channels, plan.rows, plan.columns, plan.tiles_w, tile, count}, x_t,
                               v);
        kernels.winograd_lift({out_channels, plan.rows, plan.columns, plan.tiles_w, tile, count},
                              dy_t, lifted);
        for (std::size_t e = 0; e < 36; ++e) {
          sgemm(Trans::kNo, Trans::kYes, out_channels, channels, n, 1.0f,
                lifted + e * out_channels * n, n, v + e * channels * n, n, 1.0f,
                partial + e * filters, channels);
        }
      }
      if (db == nullptr || task % plan.bands != 0) continue;
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
  for (std::size_t task = 1; task < plan.tasks(); ++task) {
    const float* partial = partials.data() + task * partial_size;
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
