// Batch normalisation: every kernel of every compiled and runnable SIMD variant against the scalar
// reference over odd sizes with buffers at float offsets 0-16; every variant's bits the same at
// float offsets 0-16; the whole forward (training and evaluation, plane and row paths, with and
// without weight and bias) and backward against a plain double-precision reference; and the same
// bits for every thread count. Tolerances: sums in double in another order, 1e-12 relative to the
// sum of the terms' magnitudes; float outputs 2e-6 relative to the terms they are computed from
// (the SIMD variants fuse a multiply-add the reference rounds twice).
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "float_buffers.h"
#include "odyssey/norm.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::BatchNormShape;
using odyssey::NormKernels;
using odyssey::test::Buffer;
using odyssey::test::mismatch;
using odyssey::test::same_bits;

// Values around 3 with spread 2: a mean far from zero makes the centring matter.
std::vector<float> shifted(std::size_t n, std::uint32_t seed) {
  std::vector<float> v = odyssey::test::normal_floats(n, 2.0f, seed);
  for (float& x : v) x += 3.0f;
  return v;
}

bool close(double want, double got, double scale, double rel) {
  return std::fabs(want - got) <= rel * scale + 1e-300;
}

std::string where(const char* kernel, odyssey::Isa isa, std::size_t n, std::size_t offset) {
  return std::string(kernel) + " " + odyssey::isa_name(isa) + " n=" + std::to_string(n) +
         " offset=" + std::to_string(offset);
}

void check_plane_kernels(const NormKernels& ref, const NormKernels& simd, odyssey::Isa isa) {
  for (std::size_t n : odyssey::test::kOddSizes) {
    const std::vector<float> x = shifted(n, 1), g = odyssey::test::normal_floats(n, 1.0f, 2);
    double abs_x = 0.0, abs_g = 0.0, abs_gd = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      abs_x += std::fabs(x[i]);
      abs_g += std::fabs(g[i]);
      abs_gd += std::fabs(g[i] * (x[i] - 3.0));
    }
    for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
      Buffer bx(x, offset), bg(g, offset + 1), out(std::vector<float>(n), offset + 2);
      double mean[2], m2[2];
      ref.plane_moments(bx.data(), n, &mean[0], &m2[0]);
      simd.plane_moments(bx.data(), n, &mean[1], &m2[1]);
      CHECK_NOTE(close(mean[0], mean[1], abs_x / n, 1e-12), where("plane_moments", isa, n, offset));
      CHECK_NOTE(close(m2[0], m2[1], m2[0] + 1e-30, 1e-11), where("plane_moments", isa, n, offset));

      double sg[2], sgd[2];
      ref.plane_grad_sums(bg.data(), bx.data(), 3.0f, n, &sg[0], &sgd[0]);
      simd.plane_grad_sums(bg.data(), bx.data(), 3.0f, n, &sg[1], &sgd[1]);
      CHECK_NOTE(close(sg[0], sg[1], abs_g, 1e-12) && close(sgd[0], sgd[1], abs_gd, 1e-12),
                 where("plane_grad_sums", isa, n, offset));

      std::vector<double> scale(n);
      for (std::size_t i = 0; i < n; ++i) scale[i] = std::fabs((x[i] - 3.0f) * 0.7f) + 0.25;
      ref.plane_affine(bx.data(), 3.0f, 0.7f, -0.25f, out.data(), n);
      const std::vector<float> want = out.values();
      simd.plane_affine(bx.data(), 3.0f, 0.7f, -0.25f, out.data(), n);
      std::string bad = mismatch(want, out.values(), 2e-6, 0.0, scale);
      CHECK_NOTE(bad.empty() && out.guard_intact(), where("plane_affine", isa, n, offset) + bad);

      for (std::size_t i = 0; i < n; ++i) {
        scale[i] = std::fabs(g[i] * 1.5) + std::fabs((x[i] - 3.0) * 0.3) + 0.2;
      }
      ref.plane_backward(bg.data(), bx.data(), 3.0f, 1.5f, 0.3f, -0.2f, out.data(), n);
      const std::vector<float> want_dx = out.values();
      simd.plane_backward(bg.data(), bx.data(), 3.0f, 1.5f, 0.3f, -0.2f, out.data(), n);
      bad = mismatch(want_dx, out.values(), 2e-6, 0.0, scale);
      CHECK_NOTE(bad.empty() && out.guard_intact(), where("plane_backward", isa, n, offset) + bad);
    }
  }
}

void check_row_kernels(const NormKernels& ref, const NormKernels& simd, odyssey::Isa isa) {
  for (std::size_t n : odyssey::test::kOddSizes) {
    const std::vector<float> x = shifted(n, 3), g = odyssey::test::normal_floats(n, 1.0f, 4);
    const std::vector<float> mean = shifted(n, 5), a = shifted(n, 6), b = shifted(n, 7),
                             c = shifted(n, 8);
    const std::vector<double> mean_d(mean.begin(), mean.end());
    for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
      Buffer bx(x, offset), bg(g, offset + 1), bm(mean, offset + 2), ba(a, offset + 3),
          bb(b, offset), bc(c, offset + 1), out(std::vector<float>(n), offset + 3);
      // Two rows accumulated onto nonzero sums.
      std::vector<double> acc[2] = {std::vector<double>(n, 0.5), std::vector<double>(n, 0.5)};
      std::vector<double> sq[2] = {std::vector<double>(n, 1.0), std::vector<double>(n, 1.0)};
      std::vector<double> sg[2] = {std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
      std::vector<double> sgd[2] = {std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
      const NormKernels* tables[2] = {&ref, &simd};
      for (int t = 0; t < 2; ++t) {
        for (int row = 0; row < 2; ++row) {
          tables[t]->row_sum(bx.data(), acc[t].data(), n);
          tables[t]->row_sq_dev(bx.data(), mean_d.data(), sq[t].data(), n);
          tables[t]->row_grad_sums(bg.data(), bx.data(), bm.data(), sg[t].data(), sgd[t].data(), n);
        }
      }
      bool ok = true;
      for (std::size_t j = 0; j < n; ++j) {
        const double d = std::fabs(x[j] - mean[j]);
        ok = ok && close(acc[0][j], acc[1][j], std::fabs(acc[0][j]) + 2 * std::fabs(x[j]), 1e-12);
        ok = ok && close(sq[0][j], sq[1][j], sq[0][j], 1e-12);
        ok = ok && close(sg[0][j], sg[1][j], 2 * std::fabs(g[j]), 1e-12);
        ok = ok && close(sgd[0][j], sgd[1][j], 2 * std::fabs(g[j]) * d, 1e-12);
      }
      CHECK_NOTE(ok, where("row sums", isa, n, offset));

      std::vector<double> scale(n);
      for (std::size_t j = 0; j < n; ++j) {
        scale[j] = std::fabs((x[j] - mean[j]) * a[j]) + std::fabs(b[j]);
      }
      ref.row_affine(bx.data(), bm.data(), ba.data(), bb.data(), out.data(), n);
      const std::vector<float> want = out.values();
      simd.row_affine(bx.data(), bm.data(), ba.data(), bb.data(), out.data(), n);
      std::string bad = mismatch(want, out.values(), 2e-6, 0.0, scale);
      CHECK_NOTE(bad.empty() && out.guard_intact(), where("row_affine", isa, n, offset) + bad);

      for (std::size_t j = 0; j < n; ++j) {
        scale[j] = std::fabs(g[j] * a[j]) + std::fabs((x[j] - mean[j]) * b[j]) + std::fabs(c[j]);
      }
      ref.row_backward(bg.data(), bx.data(), bm.data(), ba.data(), bb.data(), bc.data(), out.data(),
                       n);
      const std::vector<float> want_dx = out.values();
      simd.row_backward(bg.data(), bx.data(), bm.data(), ba.data(), bb.data(), bc.data(),
                        out.data(), n);
      bad = mismatch(want_dx, out.values(), 2e-6, 0.0, scale);
      CHECK_NOTE(bad.empty() && out.guard_intact(), where("row_backward", isa, n, offset) + bad);
    }
  }
}

void check_variants() {
  const NormKernels& ref = *odyssey::norm_kernels(odyssey::Isa::kScalar);
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    const NormKernels& simd = *odyssey::norm_kernels(isa);
    check_plane_kernels(ref, simd, isa);
    check_row_kernels(ref, simd, isa);
  }
}

// -- the whole op --------------------------------------------------------------------------------

struct Outputs {
  std::vector<float> y, mean, invstd, running_mean, running_var, grad_x, grad_w, grad_b;
  // The reference's: the size of the terms each y and grad_x element cancels from.
  std::vector<double> y_scale, grad_x_scale;
};

struct Case {
  BatchNormShape shape;
  bool affine;
  bool training;
};

std::size_t size_of(const BatchNormShape& s) { return s.batch * s.channels * s.spatial; }

// Forward then backward on the selected ISA at float offset `offset` of every buffer.
Outputs run_op(const Case& k, const std::vector<float>& x, const std::vector<float>& g,
               std::size_t offset) {
  const BatchNormShape& s = k.shape;
  const std::size_t n = size_of(s), c = s.channels;
  Buffer bx(x, offset), bg(g, offset + 1), by(std::vector<float>(n), offset + 2);
  Buffer w(shifted(c, 11), offset + 3), b(odyssey::test::normal_floats(c, 1.0f, 12), offset);
  Buffer rm(odyssey::test::normal_floats(c, 1.0f, 13), offset + 1);
  Buffer rv(shifted(c, 14), offset + 2);  // positive: about 3 +- 2, clipped at 3 - 8
  for (std::size_t i = 0; i < c; ++i) rv.data()[i] = std::fabs(rv.data()[i]) + 0.5f;
  Buffer mean(std::vector<float>(c), offset + 3), invstd(std::vector<float>(c), offset);
  Buffer gx(std::vector<float>(n), offset + 1), gw(std::vector<float>(c), offset + 2),
      gb(std::vector<float>(c), offset + 3);
  const float* weight = k.affine ? w.data() : nullptr;
  const float* bias = k.affine ? b.data() : nullptr;
  if (k.training) {
    odyssey::batch_norm_forward_training(bx.data(), weight, bias, rm.data(), rv.data(), 0.1, 1e-5,
                                         by.data(), mean.data(), invstd.data(), s);
  } else {
    odyssey::batch_norm_forward_eval(bx.data(), weight, bias, rm.data(), rv.data(), 1e-5, by.data(),
                                     mean.data(), invstd.data(), s);
  }
  odyssey::batch_norm_backward(bg.data(), bx.data(), weight, mean.data(), invstd.data(), k.training,
                               gx.data(), gw.data(), gb.data(), s);
  for (const Buffer* buffer : {&bx, &bg, &by, &w, &b, &rm, &rv, &mean, &invstd, &gx, &gw, &gb}) {
    CHECK_NOTE(buffer->guard_intact(), "wrote past a buffer");
  }
  return {by.values(), mean.values(), invstd.values(), rm.values(), rv.values(),
          gx.values(), gw.values(),   gb.values(),     {},          {}};
}

// The textbook formulas in double, straight from the definitions.
Outputs reference(const Case& k, const std::vector<float>& x, const std::vector<float>& g) {
  const BatchNormShape& s = k.shape;
  const std::size_t c = s.channels, sp = s.spatial;
  const double count = static_cast<double>(s.batch * sp);
  const std::vector<float> w = shifted(c, 11), b = odyssey::test::normal_floats(c, 1.0f, 12);
  std::vector<float> rm = odyssey::test::normal_floats(c, 1.0f, 13), rv = shifted(c, 14);
  for (float& v : rv) v = std::fabs(v) + 0.5f;
  Outputs out;
  out.y.resize(x.size());
  out.grad_x.resize(x.size());
  out.y_scale.resize(x.size());
  out.grad_x_scale.resize(x.size());
  const auto at = [&](std::size_t r, std::size_t ch, std::size_t i) {
    return (r * c + ch) * sp + i;
  };
  for (std::size_t ch = 0; ch < c; ++ch) {
    double mean = rm[ch], var = rv[ch];
    if (k.training) {
      double sum = 0.0, sq = 0.0;
      for (std::size_t r = 0; r < s.batch; ++r) {
        for (std::size_t i = 0; i < sp; ++i) sum += x[at(r, ch, i)];
      }
      mean = sum / count;
      for (std::size_t r = 0; r < s.batch; ++r) {
        for (std::size_t i = 0; i < sp; ++i)
          sq += (x[at(r, ch, i)] - mean) * (x[at(r, ch, i)] - mean);
      }
      var = sq / count;
      rm[ch] = static_cast<float>(0.9 * rm[ch] + 0.1 * mean);
      rv[ch] = static_cast<float>(0.9 * rv[ch] + 0.1 * var * count / (count - 1));
    }
    const double inv = 1.0 / std::sqrt(var + 1e-5);
    const double wc = k.affine ? w[ch] : 1.0, bc = k.affine ? b[ch] : 0.0;
    double sum_g = 0.0, sum_gxh = 0.0;
    for (std::size_t r = 0; r < s.batch; ++r) {
      for (std::size_t i = 0; i < sp; ++i) {
        const std::size_t j = at(r, ch, i);
        const double xh = (x[j] - mean) * inv;
        out.y[j] = static_cast<float>(xh * wc + bc);
        out.y_scale[j] = std::fabs(xh * wc) + std::fabs(bc);
        sum_g += g[j];
        sum_gxh += g[j] * xh;
      }
    }
    for (std::size_t r = 0; r < s.batch; ++r) {
      for (std::size_t i = 0; i < sp; ++i) {
        const std::size_t j = at(r, ch, i);
        const double xh = (x[j] - mean) * inv;
        const double full = (g[j] - sum_g / count - xh * sum_gxh / count) * wc * inv;
        out.grad_x[j] = static_cast<float>(k.training ? full : g[j] * wc * inv);
        out.grad_x_scale[j] = std::fabs(wc * inv) * (std::fabs(g[j]) + std::fabs(sum_g) / count +
                                                     std::fabs(xh * sum_gxh) / count);
      }
    }
    out.mean.push_back(static_cast<float>(mean));
    out.invstd.push_back(static_cast<float>(inv));
    out.grad_w.push_back(static_cast<float>(sum_gxh));
    out.grad_b.push_back(static_cast<float>(sum_g));
  }
  out.running_mean = rm;
  out.running_var = rv;
  return out;
}

const Case kCases[] = {
    {{4, 3, 1}, true, true},  {{7, 5, 1}, false, true},   {{2, 70, 1}, true, true},
    {{5, 4, 3}, true, true},  {{3, 2, 15}, false, true},  {{3, 2, 17}, true, true},
    {{2, 3, 33}, true, true}, {{3, 5, 1025}, true, true}, {{1, 2, 16}, false, true},
    {{4, 3, 1}, true, false}, {{5, 4, 3}, false, false},  {{2, 3, 33}, true, false},
    {{2, 0, 5}, true, true},  {{0, 3, 20}, true, false},
};

std::string case_name(const Case& k) {
  return "(" + std::to_string(k.shape.batch) + ", " + std::to_string(k.shape.channels) + ", " +
         std::to_string(k.shape.spatial) + ")" + (k.affine ? " affine" : "") +
         (k.training ? " training" : " eval");
}

void check_op_against_reference() {
  for (const Case& k : kCases) {
    const std::size_t n = size_of(k.shape);
    const std::vector<float> x = shifted(n, 21), g = odyssey::test::normal_floats(n, 1.0f, 22);
    const Outputs want = reference(k, x, g);
    for (odyssey::Isa isa : odyssey::available_isas()) {
      odyssey::select_isa(isa);
      const Outputs got = run_op(k, x, g, 1);
      const std::string at = case_name(k) + " " + odyssey::isa_name(isa) + " ";
      // y and grad_x cancel: their error is relative to the terms they are computed from.
      std::string bad = mismatch(want.y, got.y, 1e-5, 1e-6, want.y_scale);
      CHECK_NOTE(bad.empty(), at + "y " + bad);
      bad = mismatch(want.grad_x, got.grad_x, 1e-5, 1e-6, want.grad_x_scale);
      CHECK_NOTE(bad.empty(), at + "grad_x " + bad);
      const std::pair<const char*, std::pair<const std::vector<float>*, const std::vector<float>*>>
          arrays[] = {{"mean", {&want.mean, &got.mean}},
                      {"invstd", {&want.invstd, &got.invstd}},
                      {"running_mean", {&want.running_mean, &got.running_mean}},
                      {"running_var", {&want.running_var, &got.running_var}},
                      {"grad_weight", {&want.grad_w, &got.grad_w}},
                      {"grad_bias", {&want.grad_b, &got.grad_b}}};
      for (const auto& [name, pair] : arrays) {
        bad = mismatch(*pair.first, *pair.second, 1e-5, 1e-6);
        CHECK_NOTE(bad.empty(), at + name + " " + bad);
      }
    }
  }
  odyssey::select_isa(odyssey::available_isas().back());
}

// Same bits for 1, 2, 3 and 5 threads, on shapes of many chunks on both paths.
void check_threads() {
  const Case cases[] = {{{8, 6, 4099}, true, true},
                        {{64, 300, 1}, true, true},
                        {{33, 70, 3}, false, true},
                        {{8, 6, 4099}, true, false}};
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (const Case& k : cases) {
      const std::size_t n = size_of(k.shape);
      const std::vector<float> x = shifted(n, 31), g = odyssey::test::normal_floats(n, 1.0f, 32);
      Outputs first;
      for (int threads : {1, 2, 3, 5}) {
        odyssey::set_num_threads(threads);
        const Outputs got = run_op(k, x, g, 0);
        if (threads == 1) first = got;
        const bool same =
            same_bits(first.y, got.y) && same_bits(first.mean, got.mean) &&
            same_bits(first.invstd, got.invstd) &&
            same_bits(first.running_mean, got.running_mean) &&
            same_bits(first.running_var, got.running_var) && same_bits(first.grad_x, got.grad_x) &&
            same_bits(first.grad_w, got.grad_w) && same_bits(first.grad_b, got.grad_b);
        CHECK_NOTE(same, case_name(k) + " " + odyssey::isa_name(isa) + " threads " +
                             std::to_string(threads));
      }
    }
  }
  odyssey::set_num_threads(1);
  odyssey::select_isa(odyssey::available_isas().back());
}

// Every kernel, and the whole op, gives the same bits at every float offset of every buffer.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  const auto kernels = [] { return &odyssey::norm_kernels(); };
  for (std::size_t n : {std::size_t{5}, std::size_t{37}, std::size_t{100}}) {
    const std::vector<float> x = shifted(n, 41), g = odyssey::test::normal_floats(n, 1.0f, 42);
    const std::vector<float> p = shifted(n, 43), zeros(n, 0.0f);
    const std::string size = " n=" + std::to_string(n);
    check_address_invariance("plane_moments" + size, {x}, [&](float* const* b) {
      double mean = 0.0, m2 = 0.0;
      kernels()->plane_moments(b[0], n, &mean, &m2);
      return std::vector<double>{mean, m2};
    });
    check_address_invariance("plane_grad_sums" + size, {g, x}, [&](float* const* b) {
      double sg = 0.0, sgd = 0.0;
      kernels()->plane_grad_sums(b[0], b[1], 3.0f, n, &sg, &sgd);
      return std::vector<double>{sg, sgd};
    });
    check_address_invariance("plane_affine" + size, {x, zeros}, [&](float* const* b) {
      kernels()->plane_affine(b[0], 3.0f, 0.7f, 0.1f, b[1], n);
    });
    check_address_invariance("plane_backward" + size, {g, x, zeros}, [&](float* const* b) {
      kernels()->plane_backward(b[0], b[1], 3.0f, 0.7f, 0.1f, -0.2f, b[2], n);
    });
    const std::vector<double> mean_d(p.begin(), p.end());
    check_address_invariance("row sums" + size, {g, x, p}, [&](float* const* b) {
      const NormKernels* k = kernels();
      std::vector<double> acc(n, 0.5), sq(n, 0.5), sg(n, 0.0), sgd(n, 0.0);
      for (int row = 0; row < 3; ++row) {
        k->row_sum(b[1], acc.data(), n);
        k->row_sq_dev(b[1], mean_d.data(), sq.data(), n);
        k->row_grad_sums(b[0], b[1], b[2], sg.data(), sgd.data(), n);
      }
      acc.insert(acc.end(), sq.begin(), sq.end());
      acc.insert(acc.end(), sg.begin(), sg.end());
      acc.insert(acc.end(), sgd.begin(), sgd.end());
      return acc;
    });
    check_address_invariance("row_affine" + size, {x, p, g, p, zeros}, [&](float* const* b) {
      kernels()->row_affine(b[0], b[1], b[2], b[3], b[4], n);
    });
    check_address_invariance("row_backward" + size, {g, x, p, g, x, p, zeros},
                             [&](float* const* b) {
                               kernels()->row_backward(b[0], b[1], b[2], b[3], b[4], b[5], b[6], n);
                             });
  }
  // The whole op on both paths: x, g and every output placed together.
  for (const BatchNormShape s : {BatchNormShape{3, 4, 37}, BatchNormShape{9, 7, 2}}) {
    const std::size_t n = size_of(s), c = s.channels;
    const std::vector<float> x = shifted(n, 51), g = odyssey::test::normal_floats(n, 1.0f, 52);
    const std::vector<float> w = shifted(c, 53), rv(c, 2.0f), zc(c, 0.0f), zn(n, 0.0f);
    check_address_invariance("batch_norm (" + std::to_string(s.batch) + ", " + std::to_string(c) +
                                 ", " + std::to_string(s.spatial) + ")",
                             {x, g, w, zc, zc, rv, zn, zc, zc, zn, zc, zc}, [&](float* const* b) {
                               odyssey::batch_norm_forward_training(b[0], b[2], b[3], b[4], b[5],
                                                                    0.1, 1e-5, b[6], b[7], b[8], s);
                               odyssey::batch_norm_backward(b[1], b[0], b[2], b[7], b[8], true,
                                                            b[9], b[10], b[11], s);
                             });
  }
}

}  // namespace

int main() {
  check_variants();
  check_op_against_reference();
  check_threads();
  check_address_invariance();
  return odyssey::test::finish();
}
