// Every SIMD micro-kernel and the whole sgemm under every ISA against the scalar reference and a
// naive triple loop in double: odd shapes across every block boundary, the four transposes,
// alpha/beta/bias, padded leading dimensions, misaligned pointers, and thread-count determinism.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "odyssey/gemm.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::GemmKernels;
using odyssey::GemmTile;
using odyssey::isa_name;
using odyssey::Trans;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kGuard = 12345.0f;

// Floats whose data() starts `offset` floats past a 64-byte boundary, followed by guard values.
struct Buffer {
  Buffer(std::size_t n, std::size_t offset, float fill = 0.0f) : storage(n + offset + 16 + 32) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
    start = ((64 - address % 64) % 64) / sizeof(float) + offset;
    std::fill(storage.begin(), storage.end(), kGuard);
    std::fill(data(), data() + n, fill);
    size = n;
  }
  float* data() { return storage.data() + start; }
  bool guards_intact() const {
    for (std::size_t i = 0; i < storage.size(); ++i) {
      if ((i < start || i >= start + size) && storage[i] != kGuard) return false;
    }
    return true;
  }
  std::vector<float> storage;
  std::size_t start = 0, size = 0;
};

void fill_random(float* x, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) x[i] = uniform(rng);
}

// The result within the bound of k float roundings on the sum of magnitudes, plus the epilogue's.
struct Expected {
  std::vector<double> value, magnitude;
};

struct Case {
  Trans ta, tb;
  std::size_t m, n, k, lda, ldb, ldc;
  float alpha, beta;
  bool bias;
};

std::string describe(const Case& c) {
  return std::string(c.ta == Trans::kYes ? "T" : "N") + (c.tb == Trans::kYes ? "T" : "N") +
         " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " lda=" + std::to_string(c.lda) + " ldb=" + std::to_string(c.ldb) +
         " ldc=" + std::to_string(c.ldc) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta) + (c.bias ? " bias" : "");
}

Expected naive(const Case& c, const float* a, const float* b, const float* c0, const float* bias) {
  Expected e{std::vector<double>(c.m * c.n), std::vector<double>(c.m * c.n)};
  for (std::size_t i = 0; i < c.m; ++i) {
    for (std::size_t j = 0; j < c.n; ++j) {
      double sum = 0.0, magnitude = 0.0;
      for (std::size_t p = 0; p < c.k; ++p) {
        const double x = c.ta == Trans::kNo ? a[i * c.lda + p] : a[p * c.lda + i];
        const double y = c.tb == Trans::kNo ? b[p * c.ldb + j] : b[j * c.ldb + p];
        sum += x * y;
        magnitude += std::fabs(x * y);
      }
      double value = c.alpha * sum;
      magnitude *= std::fabs(c.alpha);
      if (c.beta != 0.0f) {
        value += static_cast<double>(c.beta) * c0[i * c.ldc + j];
        magnitude += std::fabs(static_cast<double>(c.beta) * c0[i * c.ldc + j]);
      }
      if (bias != nullptr) {
        value += bias[j];
        magnitude += std::fabs(bias[j]);
      }
      e.value[i * c.n + j] = value;
      e.magnitude[i * c.n + j] = magnitude;
    }
  }
  return e;
}

bool close(const Expected& e, const float* c, std::size_t m, std::size_t n, std::size_t ldc,
           std::size_t k, std::string* where) {
  const double eps = std::numeric_limits<float>::epsilon();
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double want = e.value[i * n + j], got = c[i * ldc + j];
      const double tolerance = (static_cast<double>(k) + 4.0) * eps * e.magnitude[i * n + j] + 1e-6;
      if (!(std::fabs(want - got) <= tolerance)) {
        *where = " at (" + std::to_string(i) + ", " + std::to_string(j) + ") want " +
                 std::to_string(want) + " got " + std::to_string(got);
        return false;
      }
    }
  }
  return true;
}

// One micro-kernel call on an m x n tile with padded strides, misaligned operands, a NaN-filled C
// for beta == 0 and guards around everything it must not touch.
// a_rows: A's rows in place (a_row = lda, a_stride = 1) instead of a packed panel.
void check_tile(const GemmKernels& kernels, const std::string& name, std::size_t m, std::size_t n,
                std::size_t k, float beta, bool with_bias, std::size_t offset, bool a_rows) {
  const std::size_t lda = a_rows ? k + 3 : kernels.mr + 3;
  const std::size_t a_size = a_rows ? kernels.mr * lda : k * lda;
  const std::size_t a_stride = a_rows ? 1 : lda, a_row = a_rows ? lda : 1;
  const std::size_t b_stride = kernels.nr + 5, ldc = n + 7;
  Buffer a(a_size, offset), b(k * b_stride, offset + 1), bias(n, offset);
  Buffer c(m * ldc, offset + 2, beta == 0.0f ? kNaN : 0.0f);
  fill_random(a.data(), a_size, 1);
  fill_random(b.data(), k * b_stride, 2);
  fill_random(bias.data(), n, 3);
  if (beta != 0.0f) fill_random(c.data(), m * ldc, 4);
  std::vector<float> c0(c.data(), c.data() + m * ldc);

  GemmTile t{};
  t.m = m;
  t.n = n;
  t.k = k;
  t.a = a.data();
  t.a_stride = a_stride;
  t.a_row = a_row;
  t.b = b.data();
  t.b_stride = b_stride;
  t.c = c.data();
  t.ldc = ldc;
  t.alpha = 1.5f;
  t.beta = beta;
  t.bias = with_bias ? bias.data() : nullptr;
  kernels.tile(t);

  // The naive loop over the same panels, as sgemm with a plain B.
  const Case as_gemm{a_rows ? Trans::kNo : Trans::kYes,
                     Trans::kNo,
                     m,
                     n,
                     k,
                     lda,
                     b_stride,
                     ldc,
                     1.5f,
                     beta,
                     with_bias};
  const Expected e =
      naive(as_gemm, a.data(), b.data(), c0.data(), with_bias ? bias.data() : nullptr);
  std::string where;
  const std::string note = name + " tile m=" + std::to_string(m) + " n=" + std::to_string(n) +
                           " k=" + std::to_string(k) + " beta=" + std::to_string(beta) +
                           (a_rows ? " a_rows" : "") + (with_bias ? " bias" : "") +
                           " offset=" + std::to_string(offset);
  CHECK_NOTE(close(e, c.data(), m, n, ldc, k, &where), note + where);
  bool padding_untouched = true;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = n; j < ldc; ++j) {
      const float was = c0[i * ldc + j], now = c.data()[i * ldc + j];
      padding_untouched &= std::memcmp(&was, &now, sizeof(float)) == 0;
    }
  }
  CHECK_NOTE(padding_untouched && c.guards_intact(), note + " wrote outside its tile");
  CHECK_NOTE(a.guards_intact() && b.guards_intact() && bias.guards_intact(), note);

  // The scalar reference tile by tile over the same panels.
  const GemmKernels& ref = odyssey::scalar::kGemm;
  std::vector<float> c_ref(c0);
  for (std::size_t i = 0; i < m; i += ref.mr) {
    for (std::size_t j = 0; j < n; j += ref.nr) {
      GemmTile r = t;
      r.m = std::min(ref.mr, m - i);
      r.n = std::min(ref.nr, n - j);
      r.a = a.data() + i * a_row;
      r.b = b.data() + j;
      r.c = c_ref.data() + i * ldc + j;
      r.bias = with_bias ? bias.data() + j : nullptr;
      ref.tile(r);
    }
  }
  Expected from_ref{std::vector<double>(m * n), e.magnitude};
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) from_ref.value[i * n + j] = c_ref[i * ldc + j];
  }
  CHECK_NOTE(close(from_ref, c.data(), m, n, ldc, 2 * k, &where), note + " vs scalar" + where);
}

void check_micro_kernel(odyssey::Isa isa) {
  const GemmKernels& kernels = *odyssey::gemm_kernels(isa);
  const std::string name = isa_name(isa);
  for (std::size_t m = 1; m <= kernels.mr; ++m) {
    for (std::size_t n = 1; n <= kernels.nr; ++n) {
      check_tile(kernels, name, m, n, 7, 0.0f, false, m % 3, false);
      check_tile(kernels, name, m, n, 3, -0.5f, true, n % 5, false);
      check_tile(kernels, name, m, n, 5, 1.0f, n % 2 == 0, (m + n) % 4, true);
    }
  }
  for (std::size_t k : {0, 1, 16, 17, 256, 1000}) {
    for (bool a_rows : {false, true}) {
      check_tile(kernels, name, kernels.mr, kernels.nr, k, 0.0f, true, 1, a_rows);
      check_tile(kernels, name, kernels.mr - 1, kernels.nr - 3, k, 2.0f, false, 3, a_rows);
    }
  }
}

// Every SIMD dot_rows against the scalar reference, bit for bit (one order of sums on every ISA):
// k across the 16-sum blocks and every lane count's tail, B's rows in blocks of 4 and the rest,
// padded leading dimensions, each operand at float offsets 0-16, with and without bias, zeros of
// both signs among the products; nothing written outside C's rows.
void check_dot_rows(odyssey::Isa isa) {
  const GemmKernels& simd = *odyssey::gemm_kernels(isa);
  const GemmKernels& scalar = *odyssey::gemm_kernels(odyssey::Isa::kScalar);
  const std::string name = isa_name(isa);
  std::size_t round = 0;
  for (std::size_t m : {1, 2, 3}) {
    for (std::size_t n : {1, 3, 4, 5, 9}) {
      for (std::size_t k : {1, 5, 8, 15, 16, 17, 31, 33, 64, 100, 400}) {
        for (std::size_t offset = 0; offset <= 16; offset += (k > 64 ? 4 : 1)) {
          ++round;
          const std::size_t pad = round % 3, lda = k + pad, ldb = k + 2 * pad, ldc = n + pad;
          const bool with_bias = round % 2 == 0;
          Buffer a(m * lda, offset), b(n * ldb, (offset * 3) % 17), bias(n, (offset * 5) % 17);
          fill_random(a.data(), m * lda, static_cast<std::uint32_t>(round));
          fill_random(b.data(), n * ldb, static_cast<std::uint32_t>(round + 1000));
          fill_random(bias.data(), n, static_cast<std::uint32_t>(round + 2000));
          a.data()[0] = -0.0f;  // a signed zero product first
          if (k > 3) b.data()[3] = 0.0f;
          std::vector<float> want(m * ldc, kNaN);
          scalar.dot_rows(a.data(), m, lda, b.data(), ldb, n, k, with_bias ? bias.data() : nullptr,
                          want.data(), ldc);
          Buffer got(m * ldc, (offset * 7) % 17, kNaN);
          simd.dot_rows(a.data(), m, lda, b.data(), ldb, n, k, with_bias ? bias.data() : nullptr,
                        got.data(), ldc);
          bool same = true;
          bool padding_untouched = true;
          for (std::size_t i = 0; i < m; ++i) {
            same &=
                std::memcmp(want.data() + i * ldc, got.data() + i * ldc, n * sizeof(float)) == 0;
            for (std::size_t j = n; j < ldc; ++j)
              padding_untouched &= std::isnan(got.data()[i * ldc + j]);
          }
          const std::string where = name + " dot_rows m=" + std::to_string(m) +
                                    " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                    " offset=" + std::to_string(offset);
          CHECK_NOTE(same, where + " differs from the scalar reference");
          CHECK_NOTE(
              padding_untouched && got.guards_intact() && a.guards_intact() && b.guards_intact(),
              where + " wrote outside C");
        }
      }
    }
  }
}

// Inf and NaN in A and B, in the first and in the last (partial) 16-sum block: each ISA's
// dot_rows gives the scalar reference's values (NaN where the reference has NaN, the same bits
// elsewhere), and both give the NaN / +-Inf pattern of a plain double sum. A loaded Inf must never
// meet the 0-filled lanes past k (that would make a NaN), and a NaN must land in its own column.
void check_dot_rows_special(odyssey::Isa isa) {
  const GemmKernels& kernels = *odyssey::gemm_kernels(isa);
  const GemmKernels& scalar = *odyssey::gemm_kernels(odyssey::Isa::kScalar);
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t k : {1, 7, 16, 17, 33, 45}) {
    for (std::size_t offset = 0; offset <= 16; ++offset) {
      const std::size_t m = 2, n = 6, lda = k + 1, ldb = k + 2, ldc = n + 1;
      Buffer a(m * lda, offset), b(n * ldb, (offset * 3) % 17);
      fill_random(a.data(), m * lda, static_cast<std::uint32_t>(k * 31 + offset));
      fill_random(b.data(), n * ldb, static_cast<std::uint32_t>(k * 37 + offset));
      const std::size_t last = k - 1;
      a.data()[last] = inf;                     // row 0: +-Inf in every column whose b is finite...
      b.data()[0 * ldb + last] = 0.0f;          // ...but Inf * 0 = NaN in column 0
      b.data()[2 * ldb + 0] = kNaN;             // column 2: NaN in both rows
      b.data()[3 * ldb + last] = -inf;          // column 3: row 0 gets Inf * -Inf = -Inf
      a.data()[lda + 0] = -inf;                 // row 1: -Inf * b, in the first block
      if (k > 1) b.data()[4 * ldb + 0] = 0.0f;  // ...0 in column 4 makes it NaN there
      std::vector<float> want(m * ldc, 7.0f);
      Buffer got(m * ldc, (offset * 7) % 17, 7.0f);
      scalar.dot_rows(a.data(), m, lda, b.data(), ldb, n, k, nullptr, want.data(), ldc);
      kernels.dot_rows(a.data(), m, lda, b.data(), ldb, n, k, nullptr, got.data(), ldc);
      bool same = true, like_double = true;
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          double sum = 0.0;
          for (std::size_t p = 0; p < k; ++p)
            sum += static_cast<double>(a.data()[i * lda + p]) * b.data()[j * ldb + p];
          const float w = want[i * ldc + j], g = got.data()[i * ldc + j];
          same &= std::isnan(w) ? std::isnan(g) : std::memcmp(&w, &g, sizeof w) == 0;
          like_double &= std::isnan(sum)   ? std::isnan(w)
                         : std::isinf(sum) ? w == static_cast<float>(sum)
                                           : std::isfinite(w);
        }
      }
      const std::string where = std::string(isa_name(isa)) +
                                " dot_rows Inf/NaN k=" + std::to_string(k) +
                                " offset=" + std::to_string(offset);
      CHECK_NOTE(same, where + " differs from the scalar reference");
      CHECK_NOTE(like_double, where + " has another NaN/Inf pattern than the exact sum");
      CHECK_NOTE(got.guards_intact(), where + " wrote outside C");
    }
  }
}

// An ISA's own packing routines, where it has them, against the plain copy: block shapes across
// every vector boundary up to two vectors, source and destination at float offsets 0-16. Each must
// copy the block's bits exactly (the source's gaps between rows hold NaN, which must not leak into
// it) and write nothing else (the destination's gaps and guards stay as they were).
void check_packing(odyssey::Isa isa) {
  const GemmKernels& kernels = *odyssey::gemm_kernels(isa);
  if (kernels.pack_transposed == nullptr || kernels.pack_copy == nullptr) return;
  const std::string name = isa_name(isa);
  for (std::size_t offset = 0; offset <= 16; ++offset) {
    for (std::size_t rows = 1; rows <= 33; rows += rows < 18 ? 1 : 5) {
      for (std::size_t cols = 1; cols <= 33; cols += cols < 18 ? 1 : 5) {
        const std::size_t ld = cols + 3;
        Buffer src(rows * ld, offset, kNaN);
        for (std::size_t r = 0; r < rows; ++r) fill_random(src.data() + r * ld, cols, 7 * r + 1);
        for (bool transposed : {false, true}) {
          const std::size_t out_rows = transposed ? cols : rows,
                            out_cols = transposed ? rows : cols;
          const std::size_t dst_stride = out_cols + 2;
          Buffer dst(out_rows * dst_stride, (offset + 5) % 17, kGuard);
          (transposed ? kernels.pack_transposed : kernels.pack_copy)(src.data(), ld, rows, cols,
                                                                     dst.data(), dst_stride);
          bool exact = dst.guards_intact();
          for (std::size_t i = 0; i < out_rows; ++i) {
            for (std::size_t j = 0; j < dst_stride; ++j) {
              const float want = j >= out_cols ? kGuard
                                 : transposed  ? src.data()[j * ld + i]
                                               : src.data()[i * ld + j];
              if (std::memcmp(&dst.data()[i * dst_stride + j], &want, sizeof(float)) != 0) {
                exact = false;
              }
            }
          }
          CHECK_NOTE(exact, name + (transposed ? " pack_transposed" : " pack_copy") +
                                " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                                " offset=" + std::to_string(offset));
        }
      }
    }
  }
}

struct Result {
  std::vector<float> c;
  bool guards;
};

// Runs sgemm on fresh buffers (misaligned by `offset`) and returns C with its padding.
Result run_sgemm(const Case& c, std::size_t offset, std::vector<float>* c0_out,
                 std::vector<float>* a_out, std::vector<float>* b_out,
                 std::vector<float>* bias_out) {
  const std::size_t a_rows = c.ta == Trans::kNo ? c.m : c.k;
  const std::size_t b_rows = c.tb == Trans::kNo ? c.k : c.n;
  Buffer a(a_rows * c.lda, offset), b(b_rows * c.ldb, offset + 1), bias(c.n, offset + 2);
  Buffer out(c.m * c.ldc, offset + 3, kNaN);
  fill_random(a.data(), a_rows * c.lda, 11);
  fill_random(b.data(), b_rows * c.ldb, 12);
  fill_random(bias.data(), c.n, 13);
  if (c.beta != 0.0f) fill_random(out.data(), c.m * c.ldc, 14);
  if (c0_out != nullptr) {
    c0_out->assign(out.data(), out.data() + c.m * c.ldc);
    a_out->assign(a.data(), a.data() + a_rows * c.lda);
    b_out->assign(b.data(), b.data() + b_rows * c.ldb);
    bias_out->assign(bias.data(), bias.data() + c.n);
  }
  odyssey::sgemm_bias(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), c.lda, b.data(), c.ldb, c.beta,
                      c.bias ? bias.data() : nullptr, out.data(), c.ldc);
  return {std::vector<float>(out.data(), out.data() + c.m * c.ldc), out.guards_intact()};
}

void check_sgemm_case(const Case& c, std::size_t offset) {
  std::vector<float> c0, a, b, bias;
  odyssey::select_isa(odyssey::Isa::kScalar);
  const Result reference = run_sgemm(c, offset, &c0, &a, &b, &bias);
  const Expected e = naive(c, a.data(), b.data(), c0.data(), c.bias ? bias.data() : nullptr);
  std::string where;
  CHECK_NOTE(close(e, reference.c.data(), c.m, c.n, c.ldc, c.k, &where),
             "scalar " + describe(c) + where);
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    odyssey::select_isa(isa);
    const Result got = run_sgemm(c, offset, nullptr, nullptr, nullptr, nullptr);
    const std::string note = std::string(isa_name(isa)) + " " + describe(c);
    CHECK_NOTE(close(e, got.c.data(), c.m, c.n, c.ldc, c.k, &where), note + where);
    Expected from_ref{std::vector<double>(c.m * c.n), e.magnitude};
    for (std::size_t i = 0; i < c.m; ++i) {
      for (std::size_t j = 0; j < c.n; ++j)
        from_ref.value[i * c.n + j] = reference.c[i * c.ldc + j];
    }
    CHECK_NOTE(close(from_ref, got.c.data(), c.m, c.n, c.ldc, 2 * c.k, &where),
               note + " vs scalar" + where);
    bool padding_untouched = true;  // NaN garbage between rows stays as it was
    for (std::size_t i = 0; i < c.m; ++i) {
      for (std::size_t j = c.n; j < c.ldc; ++j) {
        padding_untouched &= std::memcmp(&got.c[i * c.ldc + j], &c0[i * c.ldc + j], 4) == 0;
      }
    }
    CHECK_NOTE(padding_untouched && got.guards, note + " wrote outside C");
  }
}

Case make_case(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, std::size_t pad,
               float alpha, float beta, bool bias) {
  const std::size_t a_cols = ta == Trans::kNo ? k : m, b_cols = tb == Trans::kNo ? n : k;
  return {ta, tb, m, n, k, a_cols + pad, b_cols + 2 * pad, n + 3 * pad, alpha, beta, bias};
}

void check_sgemm_shapes() {
  const Trans both[] = {Trans::kNo, Trans::kYes};
  std::size_t round = 0;
  for (Trans ta : both) {
    for (Trans tb : both) {
      for (std::size_t m : {1, 2, 7, 13, 17, 33, 70}) {
        for (std::size_t n : {1, 5, 16, 17, 31, 33, 65}) {
          for (std::size_t k : {1, 7, 256, 300}) {
            ++round;
            const float alpha = round % 3 == 0 ? -0.75f : 1.0f;
            const float beta = round % 4 == 0 ? 0.5f : (round % 4 == 1 ? 1.0f : 0.0f);
            check_sgemm_case(make_case(ta, tb, m, n, k, round % 3, alpha, beta, round % 2 == 0),
                             round % 4);
          }
        }
      }
      // Large k, several k blocks; and blocks past kMcMax rows with many parallel chunks.
      check_sgemm_case(make_case(ta, tb, 19, 37, 1000, 1, 1.0f, 0.0f, true), 1);
      check_sgemm_case(make_case(ta, tb, 250, 100, 600, 2, 0.5f, -1.0f, true), 3);
      check_sgemm_case(make_case(ta, tb, 6, 700, 25, 0, 1.0f, 0.0f, false), 0);
    }
  }
  // The dot-product path (a Linear forward of one or two rows), LeNet-5's shapes among them.
  for (std::size_t m : {1, 2}) {
    check_sgemm_case(make_case(Trans::kNo, Trans::kYes, m, 120, 400, 1, 1.0f, 0.0f, true), m);
    check_sgemm_case(make_case(Trans::kNo, Trans::kYes, m, 84, 120, 0, 1.0f, 0.0f, true), 0);
    check_sgemm_case(make_case(Trans::kNo, Trans::kYes, m, 10, 84, 2, 1.0f, 0.0f, false), 3);
  }
}

void check_degenerate_shapes() {
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    // k == 0: C = beta * C + bias, A and B untouched (null here).
    std::vector<float> c = {1.0f, 2.0f, 3.0f, 4.0f}, bias = {10.0f, 20.0f};
    odyssey::sgemm_bias(Trans::kNo, Trans::kNo, 2, 2, 0, 1.0f, nullptr, 0, nullptr, 2, 2.0f,
                        bias.data(), c.data(), 2);
    CHECK(c == (std::vector<float>{12.0f, 24.0f, 16.0f, 28.0f}));
    // beta == 0 and alpha == 0: NaN in C does not survive.
    std::vector<float> nan_c(4, kNaN), a(4, 1.0f), b(4, 1.0f);
    odyssey::sgemm(Trans::kNo, Trans::kNo, 2, 2, 2, 0.0f, a.data(), 2, b.data(), 2, 0.0f,
                   nan_c.data(), 2);
    CHECK(nan_c == std::vector<float>(4, 0.0f));
    // m == 0 or n == 0 touch nothing.
    odyssey::sgemm(Trans::kNo, Trans::kNo, 0, 2, 2, 1.0f, nullptr, 2, nullptr, 2, 0.0f, nullptr, 2);
  }
  bool threw = false;
  try {
    std::vector<float> x(16);
    odyssey::sgemm(Trans::kNo, Trans::kNo, 2, 2, 4, 1.0f, x.data(), 3, x.data(), 2, 0.0f, x.data(),
                   2);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK_NOTE(threw, "lda smaller than k is rejected");
}

void check_thread_determinism() {
  const Trans both[] = {Trans::kNo, Trans::kYes};
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    for (Trans ta : both) {
      for (Trans tb : both) {
        const Case c = make_case(ta, tb, 301, 203, 517, 1, 1.0f, 0.5f, true);
        odyssey::set_num_threads(1);
        const Result one = run_sgemm(c, 1, nullptr, nullptr, nullptr, nullptr);
        for (int threads : {2, 3}) {
          odyssey::set_num_threads(threads);
          const Result many = run_sgemm(c, 1, nullptr, nullptr, nullptr, nullptr);
          CHECK_NOTE(std::memcmp(one.c.data(), many.c.data(), one.c.size() * sizeof(float)) == 0,
                     std::string(isa_name(isa)) + " threads=" + std::to_string(threads) + " " +
                         describe(c));
        }
      }
    }
  }
  odyssey::set_num_threads(1);
}

void check_nested_call_runs_serially() {
  // Per-sample GEMMs from a parallel_for body, as convolution does, equal the same calls made
  // alone.
  const std::size_t samples = 4, m = 16, n = 40, k = 300;
  std::vector<float> a(samples * m * k), b(k * n), together(samples * m * n),
      alone(samples * m * n);
  fill_random(a.data(), a.size(), 21);
  fill_random(b.data(), b.size(), 22);
  odyssey::set_num_threads(2);
  odyssey::parallel_for(samples, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t s = begin; s < end; ++s) {
      odyssey::sgemm(Trans::kNo, Trans::kNo, m, n, k, 1.0f, a.data() + s * m * k, k, b.data(), n,
                     0.0f, together.data() + s * m * n, n);
    }
  });
  for (std::size_t s = 0; s < samples; ++s) {
    odyssey::sgemm(Trans::kNo, Trans::kNo, m, n, k, 1.0f, a.data() + s * m * k, k, b.data(), n,
                   0.0f, alone.data() + s * m * n, n);
  }
  CHECK(std::memcmp(together.data(), alone.data(), alone.size() * sizeof(float)) == 0);
  odyssey::set_num_threads(1);
}

// sgemm_many: products of every path (tiles split into blocks, one whole block, the dot rows, k ==
// 0) in one job give each its own sgemm_bias bits, for every thread count; a bad leading dimension
// in any product throws before anything is written.
void check_many() {
  using odyssey::GemmProblem;
  struct Shape {
    Trans ta, tb;
    std::size_t m, n, k;
  };
  const Shape shapes[] = {
      {Trans::kNo, Trans::kNo, 64, 400, 120}, {Trans::kYes, Trans::kNo, 120, 400, 64},
      {Trans::kNo, Trans::kYes, 2, 84, 120},  {Trans::kYes, Trans::kNo, 84, 1, 64},
      {Trans::kNo, Trans::kNo, 5, 3, 0},      {Trans::kNo, Trans::kYes, 301, 203, 517}};
  std::vector<std::vector<float>> a, b, bias, alone, many;
  std::vector<GemmProblem> problems;
  for (std::size_t i = 0; i < std::size(shapes); ++i) {
    const Shape& sh = shapes[i];
    a.push_back(odyssey::test::normal_floats(sh.m * sh.k, 1.0f, 50 + i));
    b.push_back(odyssey::test::normal_floats(sh.k * sh.n, 1.0f, 60 + i));
    bias.push_back(odyssey::test::normal_floats(sh.n, 1.0f, 70 + i));
    alone.emplace_back(sh.m * sh.n, kNaN);
    many.emplace_back(sh.m * sh.n, kNaN);
  }
  for (std::size_t i = 0; i < std::size(shapes); ++i) {
    const Shape& sh = shapes[i];
    const std::size_t lda = sh.ta == Trans::kNo ? sh.k : sh.m;
    const std::size_t ldb = sh.tb == Trans::kNo ? sh.n : sh.k;
    // The two-row shape takes the dot rows only with bias, alpha 1 and beta 0.
    const float alpha = sh.m <= 2 ? 1.0f : 0.75f;
    problems.push_back({sh.ta, sh.tb, sh.m, sh.n, sh.k, alpha, a[i].data(), lda, b[i].data(), ldb,
                        0.0f, i % 2 == 0 ? bias[i].data() : nullptr, many[i].data(), sh.n});
    odyssey::sgemm_bias(sh.ta, sh.tb, sh.m, sh.n, sh.k, alpha, a[i].data(), lda, b[i].data(), ldb,
                        0.0f, i % 2 == 0 ? bias[i].data() : nullptr, alone[i].data(), sh.n);
  }
  for (int threads : {1, 2, 3}) {
    odyssey::set_num_threads(threads);
    for (auto& c : many) std::fill(c.begin(), c.end(), kNaN);
    odyssey::sgemm_many(problems.data(), problems.size());
    for (std::size_t i = 0; i < std::size(shapes); ++i) {
      CHECK_NOTE(std::memcmp(many[i].data(), alone[i].data(), alone[i].size() * sizeof(float)) == 0,
                 "sgemm_many product " + std::to_string(i) + " threads=" + std::to_string(threads));
    }
  }
  odyssey::set_num_threads(1);
  for (auto& c : many) std::fill(c.begin(), c.end(), kNaN);
  problems.back().ldb = 1;  // smaller than a row of B^T's k
  bool threw = false;
  try {
    odyssey::sgemm_many(problems.data(), problems.size());
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK_NOTE(threw, "sgemm_many rejects a bad ldb");
  CHECK_NOTE(std::isnan(many[0][0]), "sgemm_many wrote nothing before throwing");
}

// Shapes that take each path of the driver: B read in place from L1 or packed, A packed or read in
// place, one block or several in parallel; the fused bias; all four transpositions.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  using odyssey::test::normal_floats;
  struct Shape {
    std::size_t m, n, k;
  };
  const Trans both[] = {Trans::kNo, Trans::kYes};
  for (const Shape& shape : {Shape{64, 120, 400}, Shape{64, 10, 84}, Shape{150, 301, 203}}) {
    const std::size_t m = shape.m, n = shape.n, k = shape.k;
    const std::vector<float> a = normal_floats(m * k, 1.0f, 41), b = normal_floats(k * n, 1.0f, 42);
    const std::vector<float> bias = normal_floats(n, 1.0f, 43), c = normal_floats(m * n, 1.0f, 44);
    for (Trans ta : both) {
      for (Trans tb : both) {
        const std::size_t lda = ta == Trans::kNo ? k : m, ldb = tb == Trans::kNo ? n : k;
        const std::string name = "sgemm_bias m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                 " k=" + std::to_string(k) + (ta == Trans::kYes ? " A^T" : "") +
                                 (tb == Trans::kYes ? " B^T" : "");
        check_address_invariance(name, {a, b, bias, c}, [&](float* const* p) {
          odyssey::sgemm_bias(ta, tb, m, n, k, 0.75f, p[0], lda, p[1], ldb, 0.5f, p[2], p[3], n);
        });
      }
    }
  }
}

}  // namespace

int main() {
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    std::printf("checking the %s micro-kernel against scalar\n", isa_name(isa));
    check_micro_kernel(isa);
    check_packing(isa);
    check_dot_rows(isa);
    check_dot_rows_special(isa);
  }
  check_dot_rows_special(odyssey::Isa::kScalar);
  check_micro_kernel(odyssey::Isa::kScalar);
  check_sgemm_shapes();
  check_degenerate_shapes();
  check_thread_determinism();
  check_nested_call_runs_serially();
  check_many();
  check_address_invariance();
  return odyssey::test::finish();
}
