// Pooling against a naive loop: window maxima with first-of-ties and NaN-wins argmax (also fused
// with a preceding relu), means, and both gradients, over odd shapes, disjoint and overlapping
// windows; the bits across thread counts and buffer addresses.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "odyssey/dispatch.h"
#include "odyssey/parallel.h"
#include "odyssey/pool.h"

namespace {

using odyssey::Pool2dShape;

std::string describe(const Pool2dShape& s) {
  return "planes=" + std::to_string(s.planes) + " H=" + std::to_string(s.in_h) +
         " W=" + std::to_string(s.in_w) + " K=" + std::to_string(s.kernel_h) + "x" +
         std::to_string(s.kernel_w) + " S=" + std::to_string(s.stride_h) + "," +
         std::to_string(s.stride_w);
}

// Few distinct values, so windows hold ties; a NaN now and then.
std::vector<float> tied_values(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> level(-3, 3);
  std::vector<float> values(n);
  for (auto& v : values) v = static_cast<float>(level(rng)) * 0.5f;
  for (std::size_t i = 7; i < n; i += 97) values[i] = std::numeric_limits<float>::quiet_NaN();
  return values;
}

void check_shape(const Pool2dShape& s, std::mt19937& rng) {
  const std::size_t oh_n = s.out_h(), ow_n = s.out_w(), in_size = s.in_h * s.in_w;
  const std::size_t out_size = oh_n * ow_n;
  const std::vector<float> x = tied_values(s.planes * in_size, rng);
  std::vector<float> dy(s.planes * out_size);
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i % 13) - 6.0f;

  // Filled with garbage: every backward pass must write all of dx.
  std::vector<float> y(dy.size()), mean(dy.size()), dx_max(x.size(), 9.0f), dx_avg(x.size(), 9.0f);
  std::vector<float> y_relu(dy.size()), dx_relu(x.size(), 9.0f);
  std::vector<std::int32_t> argmax(dy.size()), argmax_relu(dy.size());
  odyssey::max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  odyssey::max_pool2d_forward(s, x.data(), y_relu.data(), argmax_relu.data(), true);
  odyssey::avg_pool2d_forward(s, x.data(), mean.data());
  odyssey::max_pool2d_backward(s, dy.data(), argmax.data(), dx_max.data());
  odyssey::max_pool2d_backward(s, dy.data(), argmax_relu.data(), dx_relu.data());
  odyssey::avg_pool2d_backward(s, dy.data(), dx_avg.data());

  std::vector<float> want_dx_max(x.size(), 0.0f), want_dx_avg(x.size(), 0.0f);
  std::vector<float> want_dx_relu(x.size(), 0.0f);
  bool max_ok = true, mean_ok = true, relu_ok = true;
  const float window = static_cast<float>(s.kernel_h * s.kernel_w);
  for (std::size_t p = 0; p < s.planes; ++p) {
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow) {
        std::size_t best = 0;
        bool found = false;
        double total = 0.0;
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
            const std::size_t at = (oh * s.stride_h + kh) * s.in_w + ow * s.stride_w + kw;
            const float v = x[p * in_size + at];
            total += v;
            // Every NaN takes over, so the last one wins, as in PyTorch.
            if (std::isnan(v) || !found || v > x[p * in_size + best]) {
              best = at;
              found = true;
            }
          }
        }
        const std::size_t o = p * out_size + oh * ow_n + ow;
        max_ok = max_ok && argmax[o] == static_cast<std::int32_t>(best);
        const float want = static_cast<float>(total) / window;
        mean_ok = mean_ok &&
                  (std::isnan(want) ? std::isnan(mean[o]) : std::fabs(mean[o] - want) <= 1e-6f);
        want_dx_max[p * in_size + best] += dy[o];
        // relu(max) = max(relu); relu_backward stops the gradient where x <= 0 (not at a NaN).
        const float top = x[p * in_size + best];
        const bool dead = top <= 0.0f;
        if (!dead) want_dx_relu[p * in_size + best] += dy[o];
        relu_ok = relu_ok && argmax_relu[o] == (dead ? -1 : static_cast<std::int32_t>(best));
        relu_ok = relu_ok &&
                  (std::isnan(top) ? std::isnan(y_relu[o])
                                   : y_relu[o] == (dead ? 0.0f : top) && !std::signbit(y_relu[o]));
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
            want_dx_avg[p * in_size + (oh * s.stride_h + kh) * s.in_w + ow * s.stride_w + kw] +=
                dy[o] / window;
          }
        }
        const float got = y[o], expected = x[p * in_size + best];
        max_ok = max_ok && (std::isnan(expected) ? std::isnan(got) : got == expected);
      }
    }
  }
  bool dx_max_ok = want_dx_max == dx_max, dx_relu_ok = want_dx_relu == dx_relu, dx_avg_ok = true;
  for (std::size_t i = 0; i < x.size(); ++i) {
    dx_avg_ok = dx_avg_ok && std::fabs(dx_avg[i] - want_dx_avg[i]) <= 1e-5f;
  }
  CHECK_NOTE(max_ok, "max forward " + describe(s));
  CHECK_NOTE(relu_ok, "relu max forward " + describe(s));
  CHECK_NOTE(dx_relu_ok, "relu max backward " + describe(s));
  CHECK_NOTE(mean_ok, "avg forward " + describe(s));
  CHECK_NOTE(dx_max_ok, "max backward " + describe(s));
  CHECK_NOTE(dx_avg_ok, "avg backward " + describe(s));
}

void check_thread_counts() {
  const Pool2dShape s{70, 13, 11, 3, 2, 2, 1};
  std::mt19937 rng(3);
  const std::vector<float> x = tied_values(s.planes * s.in_h * s.in_w, rng);
  const std::size_t out = s.planes * s.out_h() * s.out_w();
  std::vector<float> dy(out, 1.25f);
  std::vector<float> reference;
  for (int threads : {1, 2, 5}) {
    odyssey::set_num_threads(threads);
    std::vector<float> y(out), dx(x.size()), y_max(out), dx_max(x.size());
    std::vector<std::int32_t> argmax(out);
    odyssey::avg_pool2d_forward(s, x.data(), y.data());
    odyssey::avg_pool2d_backward(s, dy.data(), dx.data());
    odyssey::max_pool2d_forward(s, x.data(), y_max.data(), argmax.data(), true);
    odyssey::max_pool2d_backward(s, dy.data(), argmax.data(), dx_max.data());
    for (const std::vector<float>* part : {&dx, &y_max, &dx_max}) {
      y.insert(y.end(), part->begin(), part->end());
    }
    if (reference.empty()) reference = y;
    CHECK_NOTE(std::memcmp(y.data(), reference.data(), y.size() * sizeof(float)) == 0,
               "threads=" + std::to_string(threads));
  }
  odyssey::set_num_threads(odyssey::default_num_threads());
}

// Every SIMD 2x2 stride-2 kernel, forward (plain and with relu) and backward, against the scalar
// reference over one and three output rows: odd widths, misaligned rows, ties, NaNs, signed
// zeros and dead outputs, bit for bit.
void check_simd_rows() {
  std::mt19937 rng(17);
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    const odyssey::PoolKernels& simd = *odyssey::pool_kernels(isa);
    for (std::size_t out_w : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64}) {
      for (std::size_t offset = 0; offset <= 16; ++offset) {
        const std::size_t in_w = 2 * out_w + offset % 2, rows = offset % 3 == 0 ? 3 : 1;
        const std::size_t outputs = rows * out_w, inputs = 2 * rows * in_w;
        std::vector<float> input = tied_values(offset + inputs, rng);
        input[offset] = -0.0f;
        for (bool relu : {false, true}) {
          std::vector<float> want(outputs), got(outputs + 1, 42.0f);
          std::vector<std::int32_t> want_at(outputs), got_at(outputs + 1, -7);
          odyssey::scalar::kPool.max_2x2_rows(input.data() + offset, in_w, out_w, rows, 5, relu,
                                              want.data(), want_at.data());
          simd.max_2x2_rows(input.data() + offset, in_w, out_w, rows, 5, relu, got.data(),
                            got_at.data());
          const std::string where = std::string(odyssey::isa_name(isa)) +
                                    " out_w=" + std::to_string(out_w) +
                                    " rows=" + std::to_string(rows) +
                                    " offset=" + std::to_string(offset) + (relu ? " relu" : "");
          CHECK_NOTE(std::memcmp(want.data(), got.data(), outputs * sizeof(float)) == 0,
                     "max 2x2 values " + where);
          CHECK_NOTE(want_at == std::vector<std::int32_t>(got_at.begin(), got_at.end() - 1),
                     "max 2x2 argmax " + where);
          CHECK_NOTE(got[outputs] == 42.0f && got_at[outputs] == -7, "wrote past the end " + where);

          // The backward rows from a misaligned dy, a -0 gradient among them, into input rows of
          // garbage that must stay past column 2 * out_w (and past the last row).
          std::vector<float> dy(offset + outputs);
          for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i % 7) - 3.0f;
          dy[offset] = -0.0f;
          std::vector<float> want_dx(inputs + 1, 42.0f), got_dx(offset + inputs + 1, 42.0f);
          odyssey::scalar::kPool.max_2x2_backward_rows(dy.data() + offset, want_at.data(), out_w,
                                                       rows, 5, in_w, want_dx.data());
          simd.max_2x2_backward_rows(dy.data() + offset, want_at.data(), out_w, rows, 5, in_w,
                                     got_dx.data() + offset);
          CHECK_NOTE(std::memcmp(want_dx.data(), got_dx.data() + offset,
                                 want_dx.size() * sizeof(float)) == 0,
                     "max 2x2 backward " + where);
        }
      }
    }
  }
}

// LeNet's two pools and an overlapping odd one. The argmax, an int32 output, is compared as the
// call's result and fed to the backward pass unmoved.
void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  std::mt19937 rng(17);
  for (const Pool2dShape& s :
       {Pool2dShape{64 * 6, 28, 28, 2, 2, 2, 2}, Pool2dShape{64 * 16, 10, 10, 2, 2, 2, 2},
        Pool2dShape{7, 13, 11, 3, 3, 2, 1}, Pool2dShape{9, 13, 17, 2, 3, 3, 3}}) {
    const std::size_t in_size = s.in_h * s.in_w, out_size = s.out_h() * s.out_w();
    const std::vector<float> x = tied_values(s.planes * in_size, rng);
    std::vector<float> dy(s.planes * out_size);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (auto& v : dy) v = uniform(rng);
    const std::vector<float> y(dy.size()), dx(x.size());
    std::vector<std::int32_t> argmax(dy.size()), argmax_relu(dy.size());
    odyssey::max_pool2d_forward(s, x.data(), std::vector<float>(dy.size()).data(), argmax.data());
    odyssey::max_pool2d_forward(s, x.data(), std::vector<float>(dy.size()).data(),
                                argmax_relu.data(), true);
    const std::string shape = " " + describe(s);
    check_address_invariance("max_pool2d_forward" + shape, {x, y}, [&](float* const* b) {
      std::vector<std::int32_t> got(argmax.size());
      odyssey::max_pool2d_forward(s, b[0], b[1], got.data());
      return got;
    });
    check_address_invariance("max_pool2d_forward relu" + shape, {x, y}, [&](float* const* b) {
      std::vector<std::int32_t> got(argmax.size());
      odyssey::max_pool2d_forward(s, b[0], b[1], got.data(), true);
      return got;
    });
    check_address_invariance("max_pool2d_backward" + shape, {dy, dx}, [&](float* const* b) {
      odyssey::max_pool2d_backward(s, b[0], argmax.data(), b[1]);
    });
    check_address_invariance("max_pool2d_backward relu" + shape, {dy, dx}, [&](float* const* b) {
      odyssey::max_pool2d_backward(s, b[0], argmax_relu.data(), b[1]);
    });
    check_address_invariance("avg_pool2d_forward" + shape, {x, y},
                             [&](float* const* b) { odyssey::avg_pool2d_forward(s, b[0], b[1]); });
    check_address_invariance("avg_pool2d_backward" + shape, {dy, dx},
                             [&](float* const* b) { odyssey::avg_pool2d_backward(s, b[0], b[1]); });
  }
}

}  // namespace

int main() {
  std::mt19937 rng(11);
  const auto pick = [&rng](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  std::vector<Pool2dShape> shapes = {{6, 28, 28, 2, 2, 2, 2},
                                     {16, 10, 10, 2, 2, 2, 2},
                                     {1, 1, 1, 1, 1, 1, 1},
                                     {3, 7, 9, 7, 9, 1, 1}};
  while (shapes.size() < 80) {
    Pool2dShape s{pick(1, 5), pick(1, 33), pick(1, 33), pick(1, 7),
                  pick(1, 7), pick(1, 3),  pick(1, 3)};
    if (s.kernel_h <= s.in_h && s.kernel_w <= s.in_w) shapes.push_back(s);
  }
  for (const Pool2dShape& s : shapes) check_shape(s, rng);
  check_thread_counts();
  check_simd_rows();
  check_address_invariance();
  return odyssey::test::finish();
}
