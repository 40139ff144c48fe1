// Batch normalisation over the channels (dim 1) of float32 input laid out (batch, channels,
// spatial...) in C order: forward with batch or running statistics, backward, and the running
// statistics' update as PyTorch does it.
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

// One ISA's building blocks. A "plane" is one channel's n contiguous values of one sample; a
// "row" is one sample's n contiguous columns (a column being one (channel, position) pair) with a
// parameter per column. Sums are carried in double; each element joins a fixed accumulator given
// by its index alone, and the accumulators combine in a fixed order, so the bits depend on the
// values and n only. Pointers need only float (double) alignment; y/dx may be x/g themselves.
struct NormKernels {
  // The plane's mean and sum of squared deviations from it (two passes, n >= 1).
  void (*plane_moments)(const float* x, std::size_t n, double* mean, double* m2);
  // sum_g = sum(g), sum_gd = sum(g * (x - mean)) over the plane.
  void (*plane_grad_sums)(const float* g, const float* x, float mean, std::size_t n, double* sum_g,
                          double* sum_gd);
  // y = (x - mean) * scale + shift.
  void (*plane_affine)(const float* x, float mean, float scale, float shift, float* y,
                       std::size_t n);
  // dx = g * a + (x - mean) * b + c.
  void (*plane_backward)(const float* g, const float* x, float mean, float a, float b, float c,
                         float* dx, std::size_t n);
  // acc[j] += x[j].
  void (*row_sum)(const float* x, double* acc, std::size_t n);
  // acc[j] += (x[j] - mean[j])^2.
  void (*row_sq_dev)(const float* x, const double* mean, double* acc, std::size_t n);
  // sum_g[j] += g[j], sum_gd[j] += g[j] * (x[j] - mean[j]).
  void (*row_grad_sums)(const float* g, const float* x, const float* mean, double* sum_g,
                        double* sum_gd, std::size_t n);
  // y[j] = (x[j] - mean[j]) * scale[j] + shift[j].
  void (*row_affine)(const float* x, const float* mean, const float* scale, const float* shift,
                     float* y, std::size_t n);
  // dx[j] = g[j] * a[j] + (x[j] - mean[j]) * b[j] + c[j].
  void (*row_backward)(const float* g, const float* x, const float* mean, const float* a,
                       const float* b, const float* c, float* dx, std::size_t n);
};

namespace scalar {
extern const NormKernels kNorm;
}
namespace avx2 {
extern const NormKernels kNorm;
}
namespace avx512 {
extern const NormKernels kNorm;
}
namespace neon {
extern const NormKernels kNorm;
}

// The variant for `isa` (nullptr when not compiled), and the selected one.
const NormKernels* norm_kernels(Isa isa);
inline const NormKernels& norm_kernels() { return *norm_kernels(selected_isa()); }

// Input (batch, channels, spatial) in C order; spatial is the product of the dims after the
// channels (1 for (N, C) input).
struct BatchNormShape {
  std::size_t batch;
  std::size_t channels;
  std::size_t spatial;
};

// Below this many positions per channel the kernels run along rows (columns = channel x
// position, lanes across channels), at or above it along each sample's planes. Fixed, so the path
// depends on the shape alone.
inline constexpr std::size_t kBatchNormPlaneMin = 16;
// Elements per parallel chunk (at least one plane, or one row's worth of columns): fixed, so chunk
// boundaries depend on the shape alone and every thread count gives the same bits.
inline constexpr std::size_t kBatchNormGrain = std::size_t{1} << 14;
// Columns per chunk of the row path's reductions, which read their chunk once per pass.
inline constexpr std::size_t kBatchNormColumnGrain = 64;

// y = (x - mean) * invstd * weight + bias per channel, with the mean and the biased variance of
// each channel over batch and spatial (batch * spatial >= 2), computed per plane (or column) by
// two passes in double and combined in a fixed order; weight and bias may be null (1 and 0).
// mean and invstd = 1 / sqrt(var + eps) are written out for the backward. running_mean and
// running_var, when not null, become (1 - momentum) * running + momentum * batch statistic, with
// the unbiased variance (var * count / (count - 1)), as PyTorch. y may be x itself.
void batch_norm_forward_training(const float* x, const float* weight, const float* bias,
                                 float* running_mean, float* running_var, double momentum,
                                 double eps, float* y, float* mean, float* invstd,
                                 BatchNormShape shape);

// The same normalised by the running statistics (evaluation); mean and invstd are written from
// them.
void batch_norm_forward_eval(const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, double eps,
                             float* y, float* mean, float* invstd, BatchNormShape shape);

// Gradients of batch_norm_forward_* from grad_y, its input x and the mean and invstd it wrote.
// grad_weight = sum(grad_y * (x - mean) * invstd), grad_bias = sum(grad_y) per channel, each
// written only when not null. grad_x, when not null: with batch statistics (training) the full
// gradient through the mean and variance, else grad_y * weight * invstd. weight may be null (1).
// grad_x may be grad_y itself.
void batch_norm_backward(const float* grad_y, const float* x, const float* weight,
                         const float* mean, const float* invstd, bool training, float* grad_x,
                         float* grad_weight, float* grad_bias, BatchNormShape shape);

}  // namespace odyssey
