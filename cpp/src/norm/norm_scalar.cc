// The reference implementation every SIMD variant is tested against: plain loops, sums in double.
#include "odyssey/norm.h"

namespace odyssey::scalar {
namespace {

void plane_moments(const float* x, std::size_t n, double* mean, double* m2) {
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += x[i];
  const double m = sum / static_cast<double>(n);
  double squares = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = x[i] - m;
    squares += d * d;
  }
  *mean = m;
  *m2 = squares;
}

void plane_grad_sums(const float* g, const float* x, float mean, std::size_t n, double* sum_g,
                     double* sum_gd) {
  double sg = 0.0, sgd = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sg += g[i];
    sgd += static_cast<double>(g[i]) * (static_cast<double>(x[i]) - mean);
  }
  *sum_g = sg;
  *sum_gd = sgd;
}

void plane_affine(const float* x, float mean, float scale, float shift, float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * scale + shift;
}

void plane_backward(const float* g, const float* x, float mean, float a, float b, float c,
                    float* dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = g[i] * a + ((x[i] - mean) * b + c);
}

void row_sum(const float* x, double* acc, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) acc[j] += x[j];
}

void row_sq_dev(const float* x, const double* mean, double* acc, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    const double d = x[j] - mean[j];
    acc[j] += d * d;
  }
}

void row_grad_sums(const float* g, const float* x, const float* mean, double* sum_g, double* sum_gd,
                   std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    sum_g[j] += g[j];
    sum_gd[j] += static_cast<double>(g[j]) * (static_cast<double>(x[j]) - mean[j]);
  }
}

void row_affine(const float* x, const float* mean, const float* scale, const float* shift, float* y,
                std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) y[j] = (x[j] - mean[j]) * scale[j] + shift[j];
}

void row_backward(const float* g, const float* x, const float* mean, const float* a, const float* b,
                  const float* c, float* dx, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dx[j] = g[j] * a[j] + ((x[j] - mean[j]) * b[j] + c[j]);
}

}  // namespace

const NormKernels kNorm{
    .plane_moments = plane_moments,
    .plane_grad_sums = plane_grad_sums,
    .plane_affine = plane_affine,
    .plane_backward = plane_backward,
    .row_sum = row_sum,
    .row_sq_dev = row_sq_dev,
    .row_grad_sums = row_grad_sums,
    .row_affine = row_affine,
    .row_backward = row_backward,
};

}  // namespace odyssey::scalar
