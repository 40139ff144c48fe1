// Batch normalisation: the selected ISA's plane or row kernels in parallel chunks whose boundaries
// depend on the shape alone, with every per-channel reduction combined in a fixed order.
#include "odyssey/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "odyssey/parallel.h"

namespace odyssey {
namespace {

// A channel's mean and biased variance.
struct Moments {
  double mean;
  double var;
};

// One channel's moments from `parts` parts of `count` values each, part k's mean and sum of
// squared deviations at mean[at(k)] and m2[at(k)], added in k order: the mean of the means, and
// Chan's combination m2 = sum(m2_k) + count * sum((mean_k - mean)^2), exact for equal counts and
// stable in double.
template <class At>
Moments combine(const std::vector<double>& mean, const std::vector<double>& m2, std::size_t parts,
                std::size_t count, const At& at) {
  double sum = 0.0;
  for (std::size_t k = 0; k < parts; ++k) sum += mean[at(k)];
  const double m = sum / static_cast<double>(parts);
  double within = 0.0, between = 0.0;
  for (std::size_t k = 0; k < parts; ++k) {
    const double d = mean[at(k)] - m;
    within += m2[at(k)];
    between += d * d;
  }
  const double total = static_cast<double>(parts) * static_cast<double>(count);
  return {m, (within + static_cast<double>(count) * between) / total};
}

bool plane_path(const BatchNormShape& s) { return s.spatial >= kBatchNormPlaneMin; }

// Planes per parallel chunk: about kBatchNormGrain elements.
std::size_t plane_grain(const BatchNormShape& s) {
  return std::max<std::size_t>(1, kBatchNormGrain / std::max<std::size_t>(1, s.spatial));
}

// Rows per parallel chunk of an elementwise pass on the row path.
std::size_t row_grain(std::size_t columns) {
  return std::max<std::size_t>(1, kBatchNormGrain / std::max<std::size_t>(1, columns));
}

// Each channel's value repeated for its `spatial` columns.
template <class T>
std::vector<T> per_column(const std::vector<T>& per_channel, std::size_t spatial) {
  std::vector<T> columns(per_channel.size() * spatial);
  for (std::size_t j = 0; j < columns.size(); ++j) columns[j] = per_channel[j / spatial];
  return columns;
}

// Every channel's moments over batch and spatial: per plane (or per column on the row path), in
// parallel chunks, then combined per channel.
std::vector<Moments> batch_moments(const NormKernels& k, const float* x, const BatchNormShape& s) {
  const std::size_t n = s.batch, c = s.channels, sp = s.spatial;
  std::vector<Moments> moments(c);
  if (plane_path(s)) {
    std::vector<double> mean(n * c), m2(n * c);
    parallel_for(n * c, plane_grain(s), [&](std::size_t begin, std::size_t end) {
      for (std::size_t p = begin; p < end; ++p) k.plane_moments(x + p * sp, sp, &mean[p], &m2[p]);
    });
    for (std::size_t ch = 0; ch < c; ++ch) {
      moments[ch] = combine(mean, m2, n, sp, [&](std::size_t i) { return i * c + ch; });
    }
    return moments;
  }
  // Rows: each column's two passes over the batch, chunk by chunk of columns.
  const std::size_t w = c * sp;
  std::vector<double> mean(w, 0.0), m2(w, 0.0);
  parallel_for(w, kBatchNormColumnGrain, [&](std::size_t begin, std::size_t end) {
    const std::size_t width = end - begin;
    for (std::size_t r = 0; r < n; ++r) k.row_sum(x + r * w + begin, &mean[begin], width);
    for (std::size_t j = begin; j < end; ++j) mean[j] /= static_cast<double>(n);
    for (std::size_t r = 0; r < n; ++r) {
      k.row_sq_dev(x + r * w + begin, &mean[begin], &m2[begin], width);
    }
  });
  for (std::size_t ch = 0; ch < c; ++ch) {
    moments[ch] = combine(mean, m2, sp, n, [&](std::size_t i) { return ch * sp + i; });
  }
  return moments;
}

// y = (x - mean) * scale + shift per channel.
void affine(const NormKernels& k, const float* x, const std::vector<float>& mean,
            const std::vector<float>& scale, const std::vector<float>& shift, float* y,
            const BatchNormShape& s) {
  const std::size_t c = s.channels, sp = s.spatial;
  if (plane_path(s)) {
    parallel_for(s.batch * c, plane_grain(s), [&](std::size_t begin, std::size_t end) {
      for (std::size_t p = begin; p < end; ++p) {
        const std::size_t ch = p % c;
        k.plane_affine(x + p * sp, mean[ch], scale[ch], shift[ch], y + p * sp, sp);
      }
    });
    return;
  }
  const std::size_t w = c * sp;
  const auto mean_w = per_column(mean, sp), scale_w = per_column(scale, sp),
             shift_w = per_column(shift, sp);
  parallel_for(s.batch, row_grain(w), [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      k.row_affine(x + r * w, mean_w.data(), scale_w.data(), shift_w.data(), y + r * w, w);
    }
  });
}

// y from mean (written already) and inv = 1 / sqrt(var + eps); writes invstd.
void normalize(const NormKernels& k, const float* x, const float* weight, const float* bias,
               const std::vector<double>& inv, float* y, const float* mean, float* invstd,
               const BatchNormShape& s) {
  const std::size_t c = s.channels;
  std::vector<float> mean_f(mean, mean + c), scale(c), shift(c);
  for (std::size_t ch = 0; ch < c; ++ch) {
    invstd[ch] = static_cast<float>(inv[ch]);
    scale[ch] = static_cast<float>(weight == nullptr ? inv[ch] : inv[ch] * weight[ch]);
    shift[ch] = bias == nullptr ? 0.0f : bias[ch];
  }
  if (s.batch * s.spatial > 0) affine(k, x, mean_f, scale, shift, y, s);
}

}  // namespace

const NormKernels* norm_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(NormKernels, kNorm);
  return kTables.get(isa);
}

void batch_norm_forward_training(const float* x, const float* weight, const float* bias,
                                 float* running_mean, float* running_var, double momentum,
                                 double eps, float* y, float* mean, float* invstd,
                                 BatchNormShape shape) {
  const std::size_t c = shape.channels;
  if (c == 0) return;
  const NormKernels& k = norm_kernels();
  const std::vector<Moments> moments = batch_moments(k, x, shape);
  const double count = static_cast<double>(shape.batch) * static_cast<double>(shape.spatial);
  std::vector<double> inv(c);
  for (std::size_t ch = 0; ch < c; ++ch) {
    const Moments& m = moments[ch];
    mean[ch] = static_cast<float>(m.mean);
    inv[ch] = 1.0 / std::sqrt(m.var + eps);
    if (running_mean != nullptr) {
      running_mean[ch] =
          static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * m.mean);
    }
    if (running_var != nullptr) {
      const double unbiased = m.var * count / (count - 1.0);
      running_var[ch] =
          static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
    }
  }
  normalize(k, x, weight, bias, inv, y, mean, invstd, shape);
}

void batch_norm_forward_eval(const float* x, const float* weight, const float* bias,
                             const float* running_mean, const float* running_var, double eps,
                             float* y, float* mean, float* invstd, BatchNormShape shape) {
  const std::size_t c = shape.channels;
  std::vector<double> inv(c);
  for (std::size_t ch = 0; ch < c; ++ch) {
    mean[ch] = running_mean[ch];
    inv[ch] = 1.0 / std::sqrt(static_cast<double>(running_var[ch]) + eps);
  }
  if (c > 0) normalize(norm_kernels(), x, weight, bias, inv, y, mean, invstd, shape);
}

void batch_norm_backward(const float* grad_y, const float* x, const float* weight,
                         const float* mean, const float* invstd, bool training, float* grad_x,
                         float* grad_weight, float* grad_bias, BatchNormShape shape) {
  const std::size_t n = shape.batch, c = shape.channels, sp = shape.spatial;
  if (c == 0) return;
  const NormKernels& k = norm_kernels();
  const std::vector<float> mean_f(mean, mean + c);
  // Per channel: sum(g) and sum(g * (x - mean)), each part's sums added in order.
  std::vector<double> sum_g(c, 0.0), sum_gd(c, 0.0);
  const bool need_sums =
      grad_weight != nullptr || grad_bias != nullptr || (grad_x != nullptr && training);
  if (need_sums && n * sp > 0) {
    if (plane_path(shape)) {
      std::vector<double> part_g(n * c), part_gd(n * c);
      parallel_for(n * c, plane_grain(shape), [&](std::size_t begin, std::size_t end) {
        for (std::size_t p = begin; p < end; ++p) {
          k.plane_grad_sums(grad_y + p * sp, x + p * sp, mean_f[p % c], sp, &part_g[p],
                            &part_gd[p]);
        }
      });
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t ch = 0; ch < c; ++ch) {
          sum_g[ch] += part_g[r * c + ch];
          sum_gd[ch] += part_gd[r * c + ch];
        }
      }
    } else {
      const std::size_t w = c * sp;
      const std::vector<float> mean_w = per_column(mean_f, sp);
      std::vector<double> col_g(w, 0.0), col_gd(w, 0.0);
      parallel_for(w, kBatchNormColumnGrain, [&](std::size_t begin, std::size_t end) {
        for (std::size_t r = 0; r < n; ++r) {
          k.row_grad_sums(grad_y + r * w + begin, x + r * w + begin, &mean_w[begin], &col_g[begin],
                          &col_gd[begin], end - begin);
        }
      });
      for (std::size_t j = 0; j < w; ++j) {
        sum_g[j / sp] += col_g[j];
        sum_gd[j / sp] += col_gd[j];
      }
    }
  }
  for (std::size_t ch = 0; ch < c; ++ch) {
    if (grad_bias != nullptr) grad_bias[ch] = static_cast<float>(sum_g[ch]);
    if (grad_weight != nullptr) grad_weight[ch] = static_cast<float>(sum_gd[ch] * invstd[ch]);
  }
  if (grad_x == nullptr || n * sp == 0) return;
  // grad_x = g * a + (x - mean) * b + cc with a = weight * invstd and, through the batch
  // statistics, b = -a * invstd^2 * sum_gd / count and cc = -a * sum_g / count.
  const double count = static_cast<double>(n) * static_cast<double>(sp);
  std::vector<float> a(c), b(c, 0.0f), cc(c, 0.0f), zero(c, 0.0f);
  for (std::size_t ch = 0; ch < c; ++ch) {
    const double inv = invstd[ch];
    const double a_ch = weight == nullptr ? inv : inv * weight[ch];
    a[ch] = static_cast<float>(a_ch);
    if (training) {
      b[ch] = static_cast<float>(-a_ch * inv * inv * sum_gd[ch] / count);
      cc[ch] = static_cast<float>(-a_ch * sum_g[ch] / count);
    }
  }
  if (!training) {  // grad_y * a alone: (g - 0) * a + 0
    affine(k, grad_y, zero, a, zero, grad_x, shape);
    return;
  }
  if (plane_path(shape)) {
    parallel_for(n * c, plane_grain(shape), [&](std::size_t begin, std::size_t end) {
      for (std::size_t p = begin; p < end; ++p) {
        const std::size_t ch = p % c;
        k.plane_backward(grad_y + p * sp, x + p * sp, mean_f[ch], a[ch], b[ch], cc[ch],
                         grad_x + p * sp, sp);
      }
    });
    return;
  }
  const std::size_t w = c * sp;
  const auto mean_w = per_column(mean_f, sp), a_w = per_column(a, sp), b_w = per_column(b, sp),
             c_w = per_column(cc, sp);
  parallel_for(n, row_grain(w), [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) {
      k.row_backward(grad_y + r * w, x + r * w, mean_w.data(), a_w.data(), b_w.data(), c_w.data(),
                     grad_x + r * w, w);
    }
  });
}

}  // namespace odyssey
