// The reference direct convolution every SIMD variant is tested against: one output at a time, the
// products summed over (channel, kernel row, kernel column) in that order.
#include "conv_winograd_tiles.h"
#include "odyssey/conv.h"

namespace odyssey::scalar {
namespace {

// The packed input value under kernel tap (kh, kw) of output (oh, ow) in channel c.
float packed_at(const PackedConv& p, const float* x, std::size_t c, std::size_t oh, std::size_t ow,
                std::size_t kh, std::size_t kw) {
  const std::size_t row = oh * p.stride_h + kh;
  const std::size_t phase = kw % p.stride_w;
  return x[((c * p.rows + row) * p.stride_w + phase) * p.row_stride + ow + kw / p.stride_w];
}

void forward(const PackedConv& p, const float* x, const float* w, const float* bias, float* y) {
  const std::size_t taps = p.kernel_h * p.kernel_w;
  for (std::size_t oc = 0; oc < p.out_channels; ++oc) {
    const float* w_oc = w + oc * p.channels * taps;
    for (std::size_t oh = 0; oh < p.out_h; ++oh) {
      for (std::size_t ow = 0; ow < p.out_w; ++ow) {
        float acc = 0.0f;
        for (std::size_t c = 0; c < p.channels; ++c) {
          for (std::size_t kh = 0; kh < p.kernel_h; ++kh) {
            for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
              acc += packed_at(p, x, c, oh, ow, kh, kw) *
                     w_oc[(c * p.kernel_h + kh) * p.kernel_w + kw];
            }
          }
        }
        y[(oc * p.out_h + oh) * p.out_w + ow] = bias != nullptr ? acc + bias[oc] : acc;
      }
    }
  }
}

void weight_grad(const PackedConv& p, const float* x, const float* dy, float* dw) {
  for (std::size_t oc = 0; oc < p.out_channels; ++oc) {
    const float* dy_oc = dy + oc * p.out_h * p.out_w;
    for (std::size_t c = 0; c < p.channels; ++c) {
      for (std::size_t kh = 0; kh < p.kernel_h; ++kh) {
        for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
          float acc = 0.0f;
          for (std::size_t oh = 0; oh < p.out_h; ++oh) {
            for (std::size_t ow = 0; ow < p.out_w; ++ow) {
              acc += dy_oc[oh * p.out_w + ow] * packed_at(p, x, c, oh, ow, kh, kw);
            }
          }
          dw[((oc * p.channels + c) * p.kernel_h + kh) * p.kernel_w + kw] += acc;
        }
      }
    }
  }
}

// dy transposed to (position, channel); with one lane dw's blocked layout is the plain one.
void weight_grad_transposed(const PackedConv& p, const float* x, const float* dy_t, float* dw) {
  for (std::size_t oc = 0; oc < p.out_channels; ++oc) {
    for (std::size_t c = 0; c < p.channels; ++c) {
      for (std::size_t kh = 0; kh < p.kernel_h; ++kh) {
        for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
          float acc = 0.0f;
          for (std::size_t oh = 0; oh < p.out_h; ++oh) {
            for (std::size_t ow = 0; ow < p.out_w; ++ow) {
              acc += dy_t[(oh * p.out_w + ow) * p.out_channels + oc] *
                     packed_at(p, x, c, oh, ow, kh, kw);
            }
          }
          dw[((oc * p.channels + c) * p.kernel_h + kh) * p.kernel_w + kw] += acc;
        }
      }
    }
  }
}

void transpose_channels(const float* dy, std::size_t channels, std::size_t plane,
                        std::size_t padded, float* dy_t) {
  for (std::size_t i = 0; i < plane; ++i) {
    for (std::size_t oc = 0; oc < padded; ++oc) {
      dy_t[i * padded + oc] = oc < channels ? dy[oc * plane + i] : 0.0f;
    }
  }
}

// One float as a lane type, for the Winograd transforms written once over V.
struct Scalar {
  using T = float;
  static constexpr std::size_t kLanes = 1;
  static T load(const float* p) { return *p; }
  static void store(float* p, T v) { *p = v; }
  static T load_first(const float* p, std::size_t n) { return n > 0 ? *p : 0.0f; }
  static void store_first(float* p, T v, std::size_t n) {
    if (n > 0) *p = v;
  }
  static T zero() { return 0.0f; }
  static T set1(float x) { return x; }
  static T add(T a, T b) { return a + b; }
  static T mul(T a, T b) { return a * b; }
};

}  // namespace

// With one lane, the channel-blocked weight layout is the plain one: the same reference serves
// both. Samples in lanes would be one sample at a time: the per-sample kernels are the reference.
const ConvKernels kConv{.lanes = 1,
                        .forward = forward,
                        .forward_lanes = forward,
                        .weight_grad = weight_grad,
                        .weight_grad_lanes = weight_grad_transposed,
                        .transpose_channels = transpose_channels,
                        .transpose_batch = nullptr,
                        .convolve_batch = nullptr,
                        .weight_grad_batch = nullptr,
                        .batch_grad_channels = 0,
                        .winograd_weights = conv_direct::winograd_weights<Scalar>,
                        .winograd_input = conv_direct::winograd_input<Scalar>,
                        .winograd_output = conv_direct::winograd_output<Scalar>,
                        .winograd_lift = conv_direct::winograd_lift<Scalar>,
                        .winograd_weights_back = conv_direct::winograd_weights_back<Scalar>};

}  // namespace odyssey::scalar
