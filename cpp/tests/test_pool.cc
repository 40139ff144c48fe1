// Pooling against a naive loop: window maxima with first-of-ties and NaN-wins argmax (also fused
// with a preceding relu), means with each divisor rule, and both gradients, over odd shapes,
// disjoint and overlapping windows, padding, dilation and ceil mode; adaptive pooling; the bits
// across thread counts and buffer addresses.
#include <algorithm>
#include <cmath>
#include <cstddef>
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
         std::to_string(s.stride_w) + " P=" + std::to_string(s.pad_h) + "," +
         std::to_string(s.pad_w) + " D=" + std::to_string(s.dilation_h) + "," +
         std::to_string(s.dilation_w) + (s.ceil_mode ? " ceil" : "");
}

// The plane position of tap k of window o along an axis, or -1 outside the input.
std::ptrdiff_t position(std::size_t o, std::size_t k, std::size_t stride, std::size_t pad,
                        std::size_t dilation, std::size_t in) {
  const auto at =
      static_cast<std::ptrdiff_t>(o * stride + k * dilation) - static_cast<std::ptrdiff_t>(pad);
  return at < static_cast<std::ptrdiff_t>(in) ? at : -1;
}

// Window means (each divisor rule) and their gradient, against the naive loop.
void check_average(const Pool2dShape& s, const std::vector<float>& x, const std::vector<float>& dy,
                   odyssey::AvgDivisor divisor) {
  const std::size_t oh_n = s.out_h(), ow_n = s.out_w(), in_size = s.in_h * s.in_w;
  std::vector<float> mean(dy.size()), dx(x.size(), 9.0f), want_dx(x.size(), 0.0f);
  odyssey::avg_pool2d_forward(s, x.data(), mean.data(), divisor);
  odyssey::avg_pool2d_backward(s, dy.data(), dx.data(), divisor);
  bool mean_ok = true;
  for (std::size_t p = 0; p < s.planes; ++p) {
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow) {
        double total = 0.0;
        std::size_t inside = 0;
        std::vector<std::size_t> taps;
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
            const auto i = position(oh, kh, s.stride_h, s.pad_h, 1, s.in_h);
            const auto j = position(ow, kw, s.stride_w, s.pad_w, 1, s.in_w);
            if (i < 0 || j < 0) continue;
            taps.push_back(static_cast<std::size_t>(i) * s.in_w + static_cast<std::size_t>(j));
            total += x[p * in_size + taps.back()];
            ++inside;
          }
        }
        // The window clipped to the padded input: PyTorch's count_include_pad size.
        const auto clip = [](std::size_t o, std::size_t k, std::size_t st, std::size_t pad,
                             std::size_t in) {
          const std::size_t start = o * st, stop = std::min(start + k, in + 2 * pad);
          return static_cast<double>(stop - start);
        };
        double size = divisor.count_include_pad
                          ? clip(oh, s.kernel_h, s.stride_h, s.pad_h, s.in_h) *
                                clip(ow, s.kernel_w, s.stride_w, s.pad_w, s.in_w)
                          : static_cast<double>(inside);
        if (divisor.divisor_override != 0) size = static_cast<double>(divisor.divisor_override);
        const std::size_t o = p * oh_n * ow_n + oh * ow_n + ow;
        const float want = inside == 0 ? 0.0f : static_cast<float>(total / size);
        mean_ok = mean_ok &&
                  (std::isnan(want) ? std::isnan(mean[o]) : std::fabs(mean[o] - want) <= 1e-5f);
        for (std::size_t t : taps) want_dx[p * in_size + t] += static_cast<float>(dy[o] / size);
      }
    }
  }
  bool dx_ok = true;
  for (std::size_t i = 0; i < x.size(); ++i)
    dx_ok = dx_ok && std::fabs(dx[i] - want_dx[i]) <= 1e-5f;
  const std::string rule = " include_pad=" + std::to_string(divisor.count_include_pad) +
                           " override=" + std::to_string(divisor.divisor_override);
  CHECK_NOTE(mean_ok, "avg forward " + describe(s) + rule);
  CHECK_NOTE(dx_ok, "avg backward " + describe(s) + rule);
}

// Few distinct values, so windows hold ties; a NaN now and then.
std::vector<float> tied_values(std::size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> level(-3, 3);
  std::vector<float> values(n);
  // Zeros of both signs: the sign a dead relu window keeps comes from its first tap.
  for (auto& v : values) {
    const int l = level(rng);
    v = l == 0 && rng() % 2 == 0 ? -0.0f : static_cast<float>(l) * 0.5f;
  }
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
  std::vector<float> y(dy.size()), dx_max(x.size(), 9.0f);
  std::vector<float> y_relu(dy.size()), dx_relu(x.size(), 9.0f);
  std::vector<std::int32_t> argmax(dy.size()), argmax_relu(dy.size());
  odyssey::max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  odyssey::max_pool2d_forward(s, x.data(), y_relu.data(), argmax_relu.data(), true);
  odyssey::max_pool2d_backward(s, dy.data(), argmax.data(), dx_max.data());
  odyssey::max_pool2d_backward(s, dy.data(), argmax_relu.data(), dx_relu.data());

  std::vector<float> want_dx_max(x.size(), 0.0f), want_dx_relu(x.size(), 0.0f);
  bool max_ok = true, relu_ok = true;
  for (std::size_t p = 0; p < s.planes; ++p) {
    for (std::size_t oh = 0; oh < oh_n; ++oh) {
      for (std::size_t ow = 0; ow < ow_n; ++ow) {
        std::size_t best = 0;
        bool found = false;
        // The separate max_pool2d over relu(x) (relu keeps -0.0 and NaN): its value, bit for bit.
        float relu_best = -std::numeric_limits<float>::infinity();
        bool relu_found = false;
        for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
          for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
            const auto i = position(oh, kh, s.stride_h, s.pad_h, s.dilation_h, s.in_h);
            const auto j = position(ow, kw, s.stride_w, s.pad_w, s.dilation_w, s.in_w);
            if (i < 0 || j < 0) continue;
            const std::size_t at =
                static_cast<std::size_t>(i) * s.in_w + static_cast<std::size_t>(j);
            const float v = x[p * in_size + at];
            // Every NaN takes over, so the last one wins, as in PyTorch.
            if (std::isnan(v) || !found || v > x[p * in_size + best]) {
              best = at;
              found = true;
            }
            const float r = v < 0.0f ? 0.0f : v;
            if (std::isnan(r) || !relu_found || r > relu_best) {
              relu_best = r;
              relu_found = true;
            }
          }
        }
        const std::size_t o = p * out_size + oh * ow_n + ow;
        if (!found) {  // every tap in the padding (dilation): -inf, no gradient
          max_ok = max_ok && argmax[o] == -1 && y[o] == -std::numeric_limits<float>::infinity();
          relu_ok = relu_ok && argmax_relu[o] == -1 &&
                    y_relu[o] == -std::numeric_limits<float>::infinity();
          continue;
        }
        max_ok = max_ok && argmax[o] == static_cast<std::int32_t>(best);
        want_dx_max[p * in_size + best] += dy[o];
        // relu(max) = max(relu); relu_backward stops the gradient where x <= 0 (not at a NaN).
        const float top = x[p * in_size + best];
        const bool dead = top <= 0.0f;
        if (!dead) want_dx_relu[p * in_size + best] += dy[o];
        relu_ok = relu_ok && argmax_relu[o] == (dead ? -1 : static_cast<std::int32_t>(best));
        relu_ok =
            relu_ok && (std::isnan(top) ? std::isnan(y_relu[o])
                                        : std::memcmp(&y_relu[o], &relu_best, sizeof(float)) == 0);
        const float got = y[o], expected = x[p * in_size + best];
        max_ok = max_ok && (std::isnan(expected) ? std::isnan(got) : got == expected);
      }
    }
  }
  CHECK_NOTE(max_ok, "max forward " + describe(s));
  CHECK_NOTE(relu_ok, "relu max forward " + describe(s));
  CHECK_NOTE(want_dx_relu == dx_relu, "relu max backward " + describe(s));
  CHECK_NOTE(want_dx_max == dx_max, "max backward " + describe(s));
  // Average pooling has no dilation.
  Pool2dShape a = s;
  a.dilation_h = a.dilation_w = 1;
  if (a.out_h() == 0 || a.out_w() == 0) return;
  std::vector<float> dy_avg(s.planes * a.out_h() * a.out_w());
  for (std::size_t i = 0; i < dy_avg.size(); ++i) dy_avg[i] = static_cast<float>(i % 11) - 5.0f;
  check_average(a, x, dy_avg, {});
  check_average(a, x, dy_avg, {.count_include_pad = false});
  check_average(a, x, dy_avg, {.divisor_override = -3});
}

// Adaptive pooling against the naive loop over PyTorch's windows.
void check_adaptive(const odyssey::AdaptivePool2dShape& s, std::mt19937& rng) {
  const std::size_t in_size = s.in_h * s.in_w, out_size = s.out_h * s.out_w;
  const std::vector<float> x = tied_values(s.planes * in_size, rng);
  std::vector<float> dy(s.planes * out_size);
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i % 7) - 3.0f;
  std::vector<float> mean(dy.size()), y(dy.size()), dx_avg(x.size(), 9.0f), dx_max(x.size(), 9.0f);
  std::vector<std::int32_t> argmax(dy.size());
  odyssey::adaptive_avg_pool2d_forward(s, x.data(), mean.data());
  odyssey::adaptive_avg_pool2d_backward(s, dy.data(), dx_avg.data());
  odyssey::adaptive_max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  odyssey::max_pool_scatter(s.planes, in_size, out_size, dy.data(), argmax.data(), dx_max.data());
  std::vector<float> want_avg(x.size(), 0.0f), want_max(x.size(), 0.0f);
  bool mean_ok = true, max_ok = true;
  for (std::size_t p = 0; p < s.planes; ++p) {
    for (std::size_t oh = 0; oh < s.out_h; ++oh) {
      const std::size_t h0 = oh * s.in_h / s.out_h,
                        h1 = ((oh + 1) * s.in_h + s.out_h - 1) / s.out_h;
      for (std::size_t ow = 0; ow < s.out_w; ++ow) {
        const std::size_t w0 = ow * s.in_w / s.out_w;
        const std::size_t w1 = ((ow + 1) * s.in_w + s.out_w - 1) / s.out_w;
        const std::size_t o = p * out_size + oh * s.out_w + ow;
        const auto count = static_cast<double>((h1 - h0) * (w1 - w0));
        double total = 0.0;
        std::size_t best = h0 * s.in_w + w0;
        for (std::size_t i = h0; i < h1; ++i) {
          for (std::size_t j = w0; j < w1; ++j) {
            const float v = x[p * in_size + i * s.in_w + j];
            total += v;
            if (std::isnan(v) || v > x[p * in_size + best]) best = i * s.in_w + j;
            want_avg[p * in_size + i * s.in_w + j] += static_cast<float>(dy[o] / count);
          }
        }
        const float want = static_cast<float>(total / count);
        mean_ok = mean_ok &&
                  (std::isnan(want) ? std::isnan(mean[o]) : std::fabs(mean[o] - want) <= 1e-5f);
        max_ok = max_ok && argmax[o] == static_cast<std::int32_t>(best);
        want_max[p * in_size + best] += dy[o];
      }
    }
  }
  bool avg_ok = true;
  for (std::size_t i = 0; i < x.size(); ++i) {
    avg_ok = avg_ok && std::fabs(dx_avg[i] - want_avg[i]) <= 1e-5f;
  }
  const std::string shape = std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " -> " +
                            std::to_string(s.out_h) + "x" + std::to_string(s.out_w);
  CHECK_NOTE(mean_ok, "adaptive avg forward " + shape);
  CHECK_NOTE(avg_ok, "adaptive avg backward " + shape);
  CHECK_NOTE(max_ok, "adaptive max forward " + shape);
  CHECK_NOTE(want_max == dx_max, "adaptive max backward " + shape);
}

// Shapes over several parallel chunks: 70 planes of 13 x 11 and LeNet-5's second pool, 200
// planes of 10 x 10 on the 2x2 kernels.
void check_thread_counts(const Pool2dShape& s) {
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
               "threads=" + std::to_string(threads) + " " + describe(s));
  }
  odyssey::set_num_threads(odyssey::default_num_threads());
}

// Every SIMD 2x2 stride-2 kernel, forward (plain and with relu) and backward, against the scalar
// reference over 1, 2, 3, 5 and 7 output rows (several rows share a vector when planes are narrow):
// odd widths, misaligned rows, ties, NaNs, signed zeros, dead outputs and an argmax naming another
// window, bit for bit.
void check_simd_rows() {
  std::mt19937 rng(17);
  for (odyssey::Isa isa : odyssey::test::simd_isas()) {
    const odyssey::PoolKernels& simd = *odyssey::pool_kernels(isa);
    for (std::size_t out_w : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64}) {
      for (std::size_t offset = 0; offset <= 16; ++offset) {
        constexpr std::size_t kRowCounts[] = {3, 1, 2, 5, 7};
        const std::size_t in_w = 2 * out_w + offset % 2, rows = kRowCounts[offset % 5];
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
          std::vector<std::int32_t> at = want_at;
          at[outputs / 2] = at[0];  // names no element of its own window (unless it is window 0)
          std::vector<float> want_dx(inputs + 1, 42.0f), got_dx(offset + inputs + 1, 42.0f);
          odyssey::scalar::kPool.max_2x2_backward_rows(dy.data() + offset, at.data(), out_w, rows,
                                                       5, in_w, want_dx.data());
          simd.max_2x2_backward_rows(dy.data() + offset, at.data(), out_w, rows, 5, in_w,
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
        Pool2dShape{7, 13, 11, 3, 3, 2, 1}, Pool2dShape{9, 13, 17, 2, 3, 3, 3},
        Pool2dShape{.planes = 5,
                    .in_h = 13,
                    .in_w = 14,
                    .kernel_h = 3,
                    .kernel_w = 3,
                    .stride_h = 2,
                    .stride_w = 2,
                    .pad_h = 1,
                    .pad_w = 1,
                    .ceil_mode = true},
        Pool2dShape{.planes = 4,
                    .in_h = 15,
                    .in_w = 31,
                    .kernel_h = 3,
                    .kernel_w = 2,
                    .stride_h = 1,
                    .stride_w = 2,
                    .pad_h = 1,
                    .pad_w = 1,
                    .dilation_h = 2}}) {
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
    if (s.dilation_h != 1) continue;  // average pooling has no dilation
    check_address_invariance("avg_pool2d_forward" + shape, {x, y},
                             [&](float* const* b) { odyssey::avg_pool2d_forward(s, b[0], b[1]); });
    check_address_invariance("avg_pool2d_backward" + shape, {dy, dx},
                             [&](float* const* b) { odyssey::avg_pool2d_backward(s, b[0], b[1]); });
  }
  const odyssey::AdaptivePool2dShape a{.planes = 6, .in_h = 13, .in_w = 17, .out_h = 4, .out_w = 5};
  const std::vector<float> x = tied_values(a.planes * a.in_h * a.in_w, rng);
  const std::vector<float> y(a.planes * a.out_h * a.out_w), dx(x.size());
  check_address_invariance("adaptive_avg_pool2d_forward", {x, y}, [&](float* const* b) {
    odyssey::adaptive_avg_pool2d_forward(a, b[0], b[1]);
  });
  check_address_invariance("adaptive_avg_pool2d_backward", {y, dx}, [&](float* const* b) {
    odyssey::adaptive_avg_pool2d_backward(a, b[0], b[1]);
  });
  check_address_invariance("adaptive_max_pool2d_forward", {x, y}, [&](float* const* b) {
    std::vector<std::int32_t> got(y.size());
    odyssey::adaptive_max_pool2d_forward(a, b[0], b[1], got.data());
    return got;
  });
}

}  // namespace

// Disjoint windows route nothing for an argmax outside its own window: past its plane (which, in
// the tall planes that narrow planes are pooled as, would name the next plane), negative, or in
// another window of its plane.
void check_foreign_argmax(const Pool2dShape& s) {
  std::mt19937 rng(5);
  const std::size_t in_size = s.in_h * s.in_w, out_size = s.out_h() * s.out_w();
  const std::vector<float> x = tied_values(s.planes * in_size, rng);
  std::vector<float> y(s.planes * out_size), dy(y.size());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i % 13) - 6.0f;
  std::vector<std::int32_t> argmax(y.size());
  odyssey::max_pool2d_forward(s, x.data(), y.data(), argmax.data());
  std::vector<float> want(x.size(), 0.0f), got(x.size(), 9.0f);
  for (std::size_t o = 0; o < argmax.size(); ++o) {
    const auto own = argmax[o];
    switch (o % 5) {
      case 0:
        want[o / out_size * in_size + static_cast<std::size_t>(own)] = 0.0f + dy[o];
        break;
      case 1:
        argmax[o] = static_cast<std::int32_t>(in_size);
        break;
      case 2:
        argmax[o] = -7;
        break;
      case 3:  // element 0 lies in window 0 only
        if (o % out_size == 0) want[o / out_size * in_size + own] = 0.0f + dy[o];
        if (o % out_size != 0) argmax[o] = 0;
        break;
      default:
        argmax[o] = static_cast<std::int32_t>(in_size) + own;
    }
  }
  odyssey::max_pool2d_backward(s, dy.data(), argmax.data(), got.data());
  CHECK_NOTE(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0,
             "foreign argmax " + describe(s));
}

int main() {
  std::mt19937 rng(11);
  const auto pick = [&rng](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  std::vector<Pool2dShape> shapes = {{6, 28, 28, 2, 2, 2, 2},
                                     {16, 10, 10, 2, 2, 2, 2},
                                     {1, 1, 1, 1, 1, 1, 1},
                                     {3, 7, 9, 7, 9, 1, 1},
                                     // Narrow planes pooled as tall planes, over several chunks.
                                     {37, 10, 10, 2, 2, 2, 2},
                                     {21, 6, 16, 2, 2, 2, 2},
                                     {19, 2, 2, 2, 2, 2, 2},
                                     {33, 4, 2, 2, 2, 2, 2},
                                     {18, 64, 16, 2, 2, 2, 2},
                                     {18, 66, 16, 2, 2, 2, 2},
                                     {17, 10, 18, 2, 2, 2, 2}};
  while (shapes.size() < 80) {
    Pool2dShape s{pick(1, 5), pick(1, 33), pick(1, 33), pick(1, 7),
                  pick(1, 7), pick(1, 3),  pick(1, 3)};
    if (s.kernel_h <= s.in_h && s.kernel_w <= s.in_w) shapes.push_back(s);
  }
  // Padding up to half the window, dilation, ceil mode: PyTorch's whole geometry.
  while (shapes.size() < 200) {
    Pool2dShape s{pick(1, 4), pick(1, 25), pick(1, 25), pick(1, 6),
                  pick(1, 6), pick(1, 4),  pick(1, 4)};
    s.pad_h = pick(0, s.kernel_h / 2);
    s.pad_w = pick(0, s.kernel_w / 2);
    s.dilation_h = pick(1, 3);
    s.dilation_w = pick(1, 3);
    s.ceil_mode = pick(0, 1) == 1;
    if (s.out_h() > 0 && s.out_w() > 0) shapes.push_back(s);
  }
  for (const Pool2dShape& s : shapes) check_shape(s, rng);
  for (int i = 0; i < 60; ++i) {
    check_adaptive({pick(1, 3), pick(1, 20), pick(1, 20), pick(1, 9), pick(1, 9)}, rng);
  }
  check_thread_counts(Pool2dShape{70, 13, 11, 3, 2, 2, 1});
  check_thread_counts(Pool2dShape{200, 10, 10, 2, 2, 2, 2});
  check_thread_counts(Pool2dShape{43, 6, 14, 2, 2, 2, 2});
  for (const Pool2dShape& s :
       {Pool2dShape{37, 10, 10, 2, 2, 2, 2}, Pool2dShape{21, 6, 16, 2, 2, 2, 2},
        Pool2dShape{5, 28, 28, 2, 2, 2, 2}}) {
    check_foreign_argmax(s);
  }
  check_simd_rows();
  check_address_invariance();
  return odyssey::test::finish();
}
