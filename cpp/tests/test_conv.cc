// Convolution: the scalar reference against a naive NCHW loop (which checks the packing, the
// dilated input gradient and the chunked weight gradient), every SIMD variant against the scalar
// reference over odd shapes and misaligned pointers, and the bits across thread counts; the same
// for convolution groups (direct kernels a group at a time), and for dilation and padding of a
// kernel's size or more (im2col + sgemm).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "odyssey/conv.h"
#include "odyssey/parallel.h"

namespace {

using odyssey::Conv2dShape;
using odyssey::Isa;

struct Results {
  std::vector<float> y, dx, dw, db;
};

// Values placed `offset` floats past a 64-byte boundary, so vector loads cross every alignment.
class Buffer {
 public:
  Buffer(const std::vector<float>& values, std::size_t offset) : storage_(values.size() + 32) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    start_ = (64 - address % 64) % 64 / sizeof(float) + offset;
    if (!values.empty()) std::memcpy(data(), values.data(), values.size() * sizeof(float));
  }
  float* data() { return storage_.data() + start_; }

 private:
  std::vector<float> storage_;
  std::size_t start_ = 0;
};

std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (auto& v : values) v = uniform(rng);
  return values;
}

std::string describe(const Conv2dShape& s) {
  return "N=" + std::to_string(s.batch) + " C=" + std::to_string(s.in_channels) +
         " H=" + std::to_string(s.in_h) + " W=" + std::to_string(s.in_w) +
         " OC=" + std::to_string(s.out_channels) + " K=" + std::to_string(s.kernel_h) + "x" +
         std::to_string(s.kernel_w) + " S=" + std::to_string(s.stride_h) + "," +
         std::to_string(s.stride_w) + " P=" + std::to_string(s.pad_h) + "," +
         std::to_string(s.pad_w) + " D=" + std::to_string(s.dilation_h) + "," +
         std::to_string(s.dilation_w) + " G=" + std::to_string(s.groups);
}

// The definition, straight from NCHW with bounds checks, in double.
Results naive(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
              const std::vector<float>& b, const std::vector<float>& dy) {
  const std::size_t oh_n = s.out_h(), ow_n = s.out_w();
  const std::size_t cg = s.group_in(), ocg = s.group_out();
  std::vector<double> y(s.batch * s.out_channels * oh_n * ow_n), dx(x.size()), dw(w.size()),
      db(s.out_channels);
  for (std::size_t n = 0; n < s.batch; ++n) {
    for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
      for (std::size_t oh = 0; oh < oh_n; ++oh) {
        for (std::size_t ow = 0; ow < ow_n; ++ow) {
          const std::size_t yi = ((n * s.out_channels + oc) * oh_n + oh) * ow_n + ow;
          double acc = b[oc];
          db[oc] += dy[yi];
          for (std::size_t c_g = 0; c_g < cg; ++c_g) {
            const std::size_t c = oc / ocg * cg + c_g;  // the input channel of oc's group
            for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
              for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
                const auto ih = static_cast<long>(oh * s.stride_h + kh * s.dilation_h) -
                                static_cast<long>(s.pad_h);
                const auto iw = static_cast<long>(ow * s.stride_w + kw * s.dilation_w) -
                                static_cast<long>(s.pad_w);
                if (ih < 0 || iw < 0 || ih >= static_cast<long>(s.in_h) ||
                    iw >= static_cast<long>(s.in_w)) {
                  continue;
                }
                const std::size_t xi =
                    ((n * s.in_channels + c) * s.in_h + static_cast<std::size_t>(ih)) * s.in_w +
                    static_cast<std::size_t>(iw);
                const std::size_t wi = ((oc * cg + c_g) * s.kernel_h + kh) * s.kernel_w + kw;
                acc += static_cast<double>(x[xi]) * w[wi];
                dx[xi] += static_cast<double>(dy[yi]) * w[wi];
                dw[wi] += static_cast<double>(dy[yi]) * x[xi];
              }
            }
          }
          y[yi] = acc;
        }
      }
    }
  }
  const auto to_float = [](const std::vector<double>& v) {
    return std::vector<float>(v.begin(), v.end());
  };
  return {to_float(y), to_float(dx), to_float(dw), to_float(db)};
}

struct Operands {
  std::vector<float> x, w, b, dy;
};

// Random input, weight, bias and output gradient of shape s.
Operands random_operands(const Conv2dShape& s, std::mt19937& rng) {
  Operands o;
  o.x = random_floats(s.batch * s.in_channels * s.in_h * s.in_w, rng);
  o.w = random_floats(s.out_channels * s.group_in() * s.kernel_h * s.kernel_w, rng);
  o.b = random_floats(s.out_channels, rng);
  o.dy = random_floats(s.batch * s.out_channels * s.out_h() * s.out_w(), rng);
  return o;
}

// All three operations on the selected ISA and thread count, inputs `offset` floats misaligned.
Results run(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
            const std::vector<float>& b, const std::vector<float>& dy, std::size_t offset) {
  Buffer xb(x, offset), wb(w, offset), bb(b, offset), dyb(dy, offset);
  Results r{std::vector<float>(dy.size()), std::vector<float>(x.size()),
            std::vector<float>(w.size()), std::vector<float>(b.size())};
  Buffer y(r.y, offset), dx(r.dx, offset);
  odyssey::conv2d_forward(s, xb.data(), wb.data(), bb.data(), y.data());
  odyssey::conv2d_backward_data(s, dyb.data(), wb.data(), dx.data());
  odyssey::conv2d_backward_weight(s, xb.data(), dyb.data(), r.dw.data(), r.db.data());
  if (!r.y.empty()) std::memcpy(r.y.data(), y.data(), r.y.size() * sizeof(float));
  if (!r.dx.empty()) std::memcpy(r.dx.data(), dx.data(), r.dx.size() * sizeof(float));
  return r;
}

// |got - want| <= tolerance * (1 + |want|) everywhere; `terms` products went into each value.
bool close(const std::vector<float>& got, const std::vector<float>& want, std::size_t terms) {
  const double tolerance = 2e-6 * static_cast<double>(terms) + 1e-5;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= tolerance * (1.0 + std::fabs(want[i])))) {
      std::fprintf(stderr, "  at %zu: got %.9g want %.9g\n", i, got[i], want[i]);
      return false;
    }
  }
  return true;
}

void check_shape(const Conv2dShape& s, std::mt19937& rng) {
  const std::size_t taps = s.kernel_h * s.kernel_w;
  const auto [x, w, b, dy] = random_operands(s, rng);
  const Results want = naive(s, x, w, b, dy);
  const std::size_t fwd_terms = s.group_in() * taps;
  const std::size_t dx_terms = s.group_out() * taps;
  const std::size_t dw_terms = s.batch * s.out_h() * s.out_w();
  odyssey::select_isa(Isa::kScalar);
  const Results reference = run(s, x, w, b, dy, 0);
  const std::string shape = describe(s);
  CHECK_NOTE(close(reference.y, want.y, fwd_terms), "scalar forward " + shape);
  CHECK_NOTE(close(reference.dx, want.dx, dx_terms), "scalar backward data " + shape);
  CHECK_NOTE(close(reference.dw, want.dw, dw_terms), "scalar backward weight " + shape);
  CHECK_NOTE(close(reference.db, want.db, dw_terms), "scalar bias gradient " + shape);
  for (Isa isa : odyssey::test::simd_isas()) {
    odyssey::select_isa(isa);
    const std::size_t offset = static_cast<std::size_t>(isa) % 4 + 1;
    const Results got = run(s, x, w, b, dy, offset);
    const std::string where = std::string(odyssey::isa_name(isa)) + " " + shape;
    CHECK_NOTE(close(got.y, reference.y, fwd_terms), "forward " + where);
    CHECK_NOTE(close(got.dx, reference.dx, dx_terms), "backward data " + where);
    CHECK_NOTE(close(got.dw, reference.dw, dw_terms), "backward weight " + where);
    CHECK_NOTE(close(got.db, reference.db, dw_terms), "bias gradient " + where);
  }
}

// Random valid shapes over the ranges the Python layer will send, plus LeNet's and a large K.
void check_shapes() {
  std::mt19937 rng(2024);
  const auto pick = [&rng](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  std::vector<Conv2dShape> shapes = {
      {2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2},
      {3, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0},
      {1, 64, 9, 9, 17, 3, 3, 1, 1, 1, 1},
      {1, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0},
      {2, 2, 33, 33, 3, 7, 7, 3, 3, 3, 3},
      {1, 1, 3, 40, 1, 3, 3, 1, 2, 1, 1},
      {1, 5, 17, 17, 33, 2, 2, 2, 2, 1, 1},
      {2, 4, 5, 6, 9, 3, 4, 1, 1, 0, 2},
      {2, 8, 9, 11, 33, 3, 3, 2, 1, 1, 1},
      {3, 16, 6, 7, 40, 3, 3, 1, 1, 1, 1},
      // 40 channels fill vectors worse than 16 columns: the weight gradient by im2col + sgemm.
      {2, 8, 5, 16, 40, 3, 3, 1, 1, 1, 1},
      // Samples in lanes (stride 1, kernel width 3 or 5, batches that fill the vectors): whole and
      // partial groups, one- and several-block rows (19 -> 10 + 9, 33 -> 3 x 11), asymmetric and
      // kernel-wide padding, a 5x3 kernel.
      {16, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2},
      {31, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0},
      {47, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1},
      {31, 2, 7, 19, 3, 5, 5, 1, 1, 2, 1},
      {16, 4, 5, 6, 9, 3, 3, 1, 1, 0, 2},
      {40, 2, 3, 33, 4, 5, 3, 1, 1, 1, 1},
      {63, 5, 4, 4, 7, 3, 3, 1, 1, 2, 2}};
  while (shapes.size() < 127) {
    Conv2dShape s{pick(1, 3), pick(1, 17), pick(1, 33), pick(1, 33), pick(1, 17), pick(1, 7),
                  pick(1, 7), pick(1, 3),  pick(1, 3),  pick(0, 3),  pick(0, 3)};
    if (2 * s.pad_h > s.kernel_h || 2 * s.pad_w > s.kernel_w) continue;
    if (s.kernel_h > s.in_h + 2 * s.pad_h || s.kernel_w > s.in_w + 2 * s.pad_w) continue;
    shapes.push_back(s);
  }
  for (const Conv2dShape& s : shapes) check_shape(s, rng);
}

// Convolution groups, dilation and padding of a kernel's size or more: fixed shapes that take each
// path (direct per group with columns or channels in lanes, the per-group GEMM weight gradient,
// im2col + sgemm), then random ones.
void check_general_shapes() {
  std::mt19937 rng(2025);
  const auto pick = [&rng](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  std::vector<Conv2dShape> shapes = {
      {2, 4, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},
      {3, 8, 11, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},    // depthwise
      {2, 6, 13, 12, 12, 3, 3, 2, 2, 1, 1, 1, 1, 6},   // depthwise, 2 outputs per channel
      {2, 8, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2},     // 16 output channels per group in lanes
      {1, 16, 6, 6, 64, 3, 3, 1, 1, 1, 1, 1, 1, 2},    // 32 output channels per group in lanes
      {1, 16, 4, 16, 80, 3, 3, 1, 1, 1, 1, 1, 1, 2},   // per-group GEMM weight gradient
      {17, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4},     // a batch that never puts samples in lanes
      {2, 2, 5, 5, 3, 3, 3, 1, 1, 2, 2},               // padding up to kernel - 1: direct
      {2, 2, 5, 5, 3, 3, 3, 1, 1, 3, 3},               // padding of the kernel's size
      {2, 3, 12, 13, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1},    // dilation 2
      {1, 4, 10, 9, 6, 3, 2, 2, 1, 3, 4, 2, 3, 2},     // dilation, groups and large padding
      {2, 6, 27, 27, 10, 5, 5, 1, 1, 2, 2, 1, 1, 2}};  // AlexNet's conv2, narrowed
  while (shapes.size() < 100) {
    const std::size_t groups = pick(1, 4);
    Conv2dShape s{pick(1, 3), groups * pick(1, 4), pick(1, 20), pick(1, 20), groups * pick(1, 4),
                  pick(1, 5), pick(1, 5),          pick(1, 3),  pick(1, 3),  pick(0, 6),
                  pick(0, 6), pick(1, 3),          pick(1, 3),  groups};
    if (s.extent_h() > s.in_h + 2 * s.pad_h || s.extent_w() > s.in_w + 2 * s.pad_w) continue;
    shapes.push_back(s);
  }
  for (const Conv2dShape& s : shapes) check_shape(s, rng);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Every ISA, several thread counts: the same bits as one thread.
void check_thread_counts(const Conv2dShape& s) {
  std::mt19937 rng(5);
  const auto [x, w, b, dy] = random_operands(s, rng);
  for (Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    odyssey::set_num_threads(1);
    const Results one = run(s, x, w, b, dy, 0);
    for (int threads : {2, 3, 8}) {
      odyssey::set_num_threads(threads);
      const Results many = run(s, x, w, b, dy, 0);
      const std::string where =
          std::string(odyssey::isa_name(isa)) + " threads=" + std::to_string(threads);
      CHECK_NOTE(same_bits(one.y, many.y), "forward " + where);
      CHECK_NOTE(same_bits(one.dx, many.dx), "backward data " + where);
      CHECK_NOTE(same_bits(one.dw, many.dw), "backward weight " + where);
      CHECK_NOTE(same_bits(one.db, many.db), "bias gradient " + where);
    }
  }
  odyssey::set_num_threads(odyssey::default_num_threads());
}

// LeNet's two convolutions (whose bias gradients once moved with dy's address), a strided one, one
// with channels in lanes, one whose weight gradient goes through im2col + sgemm, and LeNet's at
// batches that put samples in the lanes.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  std::mt19937 rng(23);
  for (const Conv2dShape& s : {Conv2dShape{8, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2},
                               Conv2dShape{8, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0},
                               Conv2dShape{5, 3, 13, 11, 5, 3, 3, 1, 2, 1, 1},
                               Conv2dShape{3, 8, 7, 9, 36, 3, 3, 1, 1, 1, 1},
                               Conv2dShape{3, 8, 5, 16, 40, 3, 3, 1, 1, 1, 1},
                               // Samples in lanes: LeNet's conv1 at a whole group, conv2 at two.
                               Conv2dShape{16, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2},
                               Conv2dShape{32, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0},
                               // Groups on the direct kernels, depthwise, im2col + sgemm.
                               Conv2dShape{5, 8, 9, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2},
                               Conv2dShape{5, 6, 11, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6},
                               Conv2dShape{5, 4, 9, 8, 6, 3, 3, 1, 2, 3, 2, 2, 1, 2},
                               // Winograd on AVX-512 (four groups of 16 samples), a partial group.
                               Conv2dShape{67, 32, 4, 8, 32, 3, 3, 1, 1, 1, 1}}) {
    const auto [x, w, b, dy] = random_operands(s, rng);
    const std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
    const std::string shape = " " + describe(s);
    check_address_invariance("conv2d_forward" + shape, {x, w, b, y}, [&](float* const* p) {
      odyssey::conv2d_forward(s, p[0], p[1], p[2], p[3]);
    });
    check_address_invariance("conv2d_backward_data" + shape, {dy, w, dx}, [&](float* const* p) {
      odyssey::conv2d_backward_data(s, p[0], p[1], p[2]);
    });
    check_address_invariance(
        "conv2d_backward_weight" + shape, {x, dy, dw, db},
        [&](float* const* p) { odyssey::conv2d_backward_weight(s, p[0], p[1], p[2], p[3]); });
  }
}

// Winograd's transforms, each SIMD variant against the scalar kernel (the same formulas over one
// lane) lane by lane: odd channel and kernel counts, runs of tiles starting anywhere, tile rows of
// 1 to 6 tiles, partial groups of samples, every float offset 0-16 of the buffers. The transforms
// are the same multiplies and adds in the same order in every lane, so the bits must match.
void check_winograd_transforms() {
  std::mt19937 rng(31);
  const odyssey::ConvKernels& scalar = *odyssey::conv_kernels(Isa::kScalar);
  for (Isa isa : odyssey::test::simd_isas()) {
    const odyssey::ConvKernels& k = *odyssey::conv_kernels(isa);
    const std::size_t lanes = k.lanes;
    for (std::size_t offset = 0; offset <= 16; ++offset) {
      const std::size_t channels = 1 + offset % 4 * 5;  // 1, 6, 11, 16
      const std::size_t tiles_w = 1 + offset % 6, tiles_h = 1 + offset % 2;
      const std::size_t tiles = tiles_w * tiles_h;
      const std::size_t begin = offset % tiles, count = tiles - begin;
      const std::size_t rows = 4 * tiles_h + 2, columns = 4 * tiles_w + 2;
      const std::size_t samples = offset % 2 == 0 ? lanes : 1 + offset % lanes;
      const std::string where = std::string(odyssey::isa_name(isa)) +
                                " offset=" + std::to_string(offset) +
                                " channels=" + std::to_string(channels);
      // Input: every lane's plane against the scalar kernel on that lane alone.
      const odyssey::WinogradTiles t{channels, rows, columns, tiles_w, begin, count};
      const std::vector<float> x = random_floats(channels * rows * columns * lanes, rng);
      Buffer xb(x, offset), v(std::vector<float>(36 * channels * count * lanes), offset);
      k.winograd_input(t, xb.data(), v.data());
      // Output: out_channels = channels, bias, written to `samples` samples of NCHW planes.
      const std::vector<float> m = random_floats(36 * channels * count * lanes, rng);
      const std::vector<float> bias = random_floats(channels, rng);
      const std::size_t plane = 16 * tiles, sample = channels * plane + offset;
      Buffer mb(m, offset), bb(bias, offset), y(std::vector<float>(lanes * sample, -7.0f), offset);
      k.winograd_output(t, mb.data(), bb.data(), samples, y.data(), sample);
      Buffer lifted(std::vector<float>(36 * channels * count * lanes), offset);
      k.winograd_lift(t, xb.data(), lifted.data());
      bool input_ok = true, output_ok = true, untouched = true, lift_ok = true;
      for (std::size_t l = 0; l < lanes; ++l) {
        std::vector<float> x_l(x.size() / lanes), v_l(36 * channels * count), m_l(v_l.size());
        for (std::size_t i = 0; i < x_l.size(); ++i) x_l[i] = x[i * lanes + l];
        scalar.winograd_input(t, x_l.data(), v_l.data());
        // The lift reads the first (rows - 2) x (columns - 2) of each plane, without padding.
        std::vector<float> lifted_l(v_l.size());
        scalar.winograd_lift(t, x_l.data(), lifted_l.data());
        for (std::size_t i = 0; i < v_l.size(); ++i) {
          lift_ok = lift_ok && lifted.data()[i * lanes + l] == lifted_l[i];
        }
        for (std::size_t i = 0; i < v_l.size(); ++i) {
          input_ok = input_ok && v.data()[i * lanes + l] == v_l[i];
          m_l[i] = m[i * lanes + l];
        }
        std::vector<float> y_l(channels * plane, -7.0f);
        scalar.winograd_output(t, m_l.data(), bias.data(), 1, y_l.data(), 0);
        // Only tiles [begin, begin + count) are written; lanes past `samples` never.
        for (std::size_t i = 0; i < y_l.size(); ++i) {
          const float got = y.data()[l * sample + i];
          if (l < samples) {
            output_ok = output_ok && got == y_l[i];
          } else {
            untouched = untouched && got == -7.0f;
          }
        }
      }
      // Weights: odd kernel counts (1 to 49), each lane against the scalar kernel.
      const std::size_t filters = 1 + offset * 3, u_stride = filters + offset;
      const std::vector<float> w33 = random_floats(filters * 9, rng);
      Buffer wb(w33, offset), u(std::vector<float>(36 * u_stride), offset);
      std::vector<float> u_ref(36 * filters);
      k.winograd_weights(wb.data(), filters, u.data(), u_stride);
      scalar.winograd_weights(w33.data(), filters, u_ref.data(), filters);
      bool weights_ok = true;
      for (std::size_t e = 0; e < 36; ++e) {
        for (std::size_t f = 0; f < filters; ++f) {
          weights_ok = weights_ok && u.data()[e * u_stride + f] == u_ref[e * filters + f];
        }
      }
      CHECK_NOTE(weights_ok, "winograd_weights " + where);
      // Back from 6x6 gradients to 3x3 ones, read from a stride past the kernel count.
      const std::vector<float> m6 = random_floats(36 * u_stride, rng);
      Buffer m6b(m6, offset), g3(std::vector<float>(filters * 9), offset);
      std::vector<float> g3_ref(filters * 9);
      k.winograd_weights_back(m6b.data(), filters, u_stride, g3.data());
      scalar.winograd_weights_back(m6.data(), filters, u_stride, g3_ref.data());
      CHECK_NOTE(std::memcmp(g3.data(), g3_ref.data(), g3_ref.size() * sizeof(float)) == 0,
                 "winograd_weights_back " + where);
      CHECK_NOTE(input_ok, "winograd_input " + where);
      CHECK_NOTE(lift_ok, "winograd_lift " + where);
      CHECK_NOTE(output_ok, "winograd_output " + where);
      CHECK_NOTE(untouched, "winograd_output wrote past its samples " + where);
    }
  }
}

// Winograd F(4x4, 3x3) passes, the weight gradient's wherever the forward's (wide stride-1 3x3
// layers at batches of four groups of samples or more) against the definition in double. Its
// rounding is not the direct kernels': each value may be off by 1e-4 of the sum of its products'
// magnitudes (measured: below 1e-5), plus 1e-5.
void check_winograd_shapes() {
  std::mt19937 rng(37);
  for (Isa isa : odyssey::test::simd_isas()) {
    odyssey::select_isa(isa);
    const std::size_t lanes = odyssey::conv_kernels().lanes;
    // Whole groups and partial last ones; padding 1 (both passes), 0 and 2 (the forward with
    // output planes of whole tiles, or the input gradient, which pads dy by 2 - padding).
    struct Case {
      Conv2dShape s;
      bool forward, backward_data;
    };
    // One or two groups split their tiles into bands of runs (24x24: 36 tiles).
    for (const Case& c : {Case{{lanes, 32, 24, 24, 32, 3, 3, 1, 1, 1, 1}, true, true},
                          Case{{4 * lanes, 32, 8, 8, 32, 3, 3, 1, 1, 1, 1}, true, true},
                          Case{{4 * lanes + 3, 33, 14, 6, 40, 3, 3, 1, 1, 0, 0}, true, false},
                          Case{{4 * lanes + 5, 35, 8, 12, 32, 3, 3, 1, 1, 0, 0}, false, true},
                          Case{{4 * lanes + 1, 32, 6, 10, 35, 3, 3, 1, 1, 2, 2}, true, false}}) {
      const Conv2dShape& s = c.s;
      const std::string where = std::string(odyssey::isa_name(isa)) + " " + describe(s);
      const auto winograd = odyssey::ConvAlgorithm::kWinograd;
      CHECK_NOTE((odyssey::conv2d_forward_algorithm(s) == winograd) == c.forward,
                 "forward's algorithm " + where);
      CHECK_NOTE((odyssey::conv2d_backward_data_algorithm(s) == winograd) == c.backward_data,
                 "backward data's algorithm " + where);
      CHECK_NOTE((odyssey::conv2d_backward_weight_algorithm(s) == winograd) == c.forward,
                 "backward weight's algorithm " + where);
      Operands o = random_operands(s, rng);
      const Results want = naive(s, o.x, o.w, o.b, o.dy);
      const auto magnitude = [](std::vector<float> v) {
        for (float& f : v) f = std::fabs(f);
        return v;
      };
      const Results size =
          naive(s, magnitude(o.x), magnitude(o.w), magnitude(o.b), magnitude(o.dy));
      const Results got = run(s, o.x, o.w, o.b, o.dy, 3);
      const auto within = [](const std::vector<float>& g, const std::vector<float>& w,
                             const std::vector<float>& m) {
        for (std::size_t i = 0; i < g.size(); ++i) {
          if (!(std::fabs(g[i] - w[i]) <= 1e-4 * m[i] + 1e-5)) {
            std::fprintf(stderr, "  at %zu: got %.9g want %.9g\n", i, g[i], w[i]);
            return false;
          }
        }
        return true;
      };
      CHECK_NOTE(within(got.y, want.y, size.y), "Winograd forward " + where);
      CHECK_NOTE(within(got.dx, want.dx, size.dx), "Winograd backward data " + where);
      CHECK_NOTE(within(got.dw, want.dw, size.dw), "Winograd backward weight " + where);
      CHECK_NOTE(within(got.db, want.db, size.db), "Winograd bias gradient " + where);
    }
  }
}

}  // namespace

int main() {
  check_winograd_transforms();
  check_winograd_shapes();
  check_shapes();
  check_general_shapes();
  // Between them, the shapes take every algorithm.
  check_thread_counts({19, 3, 13, 11, 5, 3, 3, 1, 2, 1, 1});
  check_thread_counts({9, 2, 6, 5, 17, 2, 2, 1, 1, 1, 1});
  check_thread_counts({11, 8, 7, 9, 36, 3, 3, 1, 1, 1, 1});
  check_thread_counts({7, 8, 6, 16, 40, 3, 3, 1, 1, 1, 1});  // weight gradient by im2col + sgemm
  check_thread_counts({47, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1});  // samples in lanes
  check_thread_counts({11, 8, 7, 9, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2});  // groups, channels in lanes
  check_thread_counts({9, 6, 9, 8, 6, 3, 3, 2, 1, 1, 1, 1, 1, 6});    // depthwise
  check_thread_counts({9, 4, 9, 8, 6, 3, 3, 1, 2, 3, 2, 2, 1, 2});    // im2col + sgemm
  check_thread_counts({67, 32, 8, 8, 32, 3, 3, 1, 1, 1, 1});          // Winograd on AVX-512
  check_thread_counts({16, 32, 24, 24, 32, 3, 3, 1, 1, 1, 1});        // Winograd in bands
  check_address_invariance();
  return odyssey::test::finish();
}
