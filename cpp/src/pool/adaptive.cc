// Adaptive pooling over independent planes, PyTorch's windows: output (i, j) of an out_h x out_w
// grid pools input rows [floor(i in_h / out_h), ceil((i + 1) in_h / out_h)) and the columns
// likewise, so neighbouring windows may share a row or column. Sums and maxima run over each
// window in row-major order, as in PyTorch, so the averages and argmaxes are PyTorch's bits.
#include <cstring>

#include "odyssey/pool.h"
#include "plane_loop.h"

namespace odyssey {
namespace {

// The input positions [first, end) of one axis of an adaptive window.
struct Taps {
  std::size_t first, end;
};

// PyTorch's adaptive window of output o: [floor(o in / out), ceil((o + 1) in / out)).
Taps adaptive_taps(std::size_t o, std::size_t in, std::size_t out) {
  return {o * in / out, ((o + 1) * in + out - 1) / out};
}

}  // namespace

void adaptive_avg_pool2d_forward(const AdaptivePool2dShape& s, const float* x, float* y) {
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    float* out = y + plane * s.out_h * s.out_w;
    for (std::size_t oh = 0; oh < s.out_h; ++oh) {
      const Taps r = adaptive_taps(oh, s.in_h, s.out_h);
      for (std::size_t ow = 0; ow < s.out_w; ++ow) {
        const Taps c = adaptive_taps(ow, s.in_w, s.out_w);
        float total = 0.0f;
        for (std::size_t i = r.first; i < r.end; ++i) {
          for (std::size_t j = c.first; j < c.end; ++j) total += in[i * s.in_w + j];
        }
        // Over each side in turn, as PyTorch does: the same bits.
        out[oh * s.out_w + ow] =
            total / static_cast<float>(r.end - r.first) / static_cast<float>(c.end - c.first);
      }
    }
  });
}

void adaptive_avg_pool2d_backward(const AdaptivePool2dShape& s, const float* dy, float* dx) {
  for_each_plane(s.planes, [&](std::size_t plane) {
    float* grad = dx + plane * s.in_h * s.in_w;
    std::memset(grad, 0, s.in_h * s.in_w * sizeof(float));
    const float* g = dy + plane * s.out_h * s.out_w;
    for (std::size_t oh = 0; oh < s.out_h; ++oh) {
      const Taps r = adaptive_taps(oh, s.in_h, s.out_h);
      for (std::size_t ow = 0; ow < s.out_w; ++ow) {
        const Taps c = adaptive_taps(ow, s.in_w, s.out_w);
        const float share = g[oh * s.out_w + ow] / static_cast<float>(r.end - r.first) /
                            static_cast<float>(c.end - c.first);
        for (std::size_t i = r.first; i < r.end; ++i) {
          for (std::size_t j = c.first; j < c.end; ++j) grad[i * s.in_w + j] += share;
        }
      }
    }
  });
}

void adaptive_max_pool2d_forward(const AdaptivePool2dShape& s, const float* x, float* y,
                                 std::int32_t* argmax) {
  for_each_plane(s.planes, [&](std::size_t plane) {
    const float* in = x + plane * s.in_h * s.in_w;
    const std::size_t out = plane * s.out_h * s.out_w;
    for (std::size_t oh = 0; oh < s.out_h; ++oh) {
      const Taps r = adaptive_taps(oh, s.in_h, s.out_h);
      for (std::size_t ow = 0; ow < s.out_w; ++ow) {
        const Taps c = adaptive_taps(ow, s.in_w, s.out_w);
        float best = in[r.first * s.in_w + c.first];
        auto best_at = static_cast<std::int32_t>(r.first * s.in_w + c.first);
        for (std::size_t i = r.first; i < r.end; ++i) {
          for (std::size_t j = c.first; j < c.end; ++j) {
            const float v = in[i * s.in_w + j];
            if (v > best || v != v) {
              best = v;
              best_at = static_cast<std::int32_t>(i * s.in_w + j);
            }
          }
        }
        y[out + oh * s.out_w + ow] = best;
        argmax[out + oh * s.out_w + ow] = best_at;
      }
    }
  });
}

}  // namespace odyssey
