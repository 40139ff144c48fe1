// im2col + sgemm convolution for one sample. The sgemm calls come from inside the front end's
// per-sample parallel_for, so they run serially and the bits do not depend on the thread count.
#include "conv_gemm.h"

#include <cstring>

#include "odyssey/gemm.h"

namespace odyssey::conv_gemm {
namespace {

// columns[(c * KH + kh) * KW + kw][oh * OW + ow] = the packed input under that tap: each output
// row's run is contiguous in the packed (phase-split) layout.
void unroll(const PackedConv& p, const float* packed, float* columns) {
  const std::size_t positions = p.out_h * p.out_w;
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t kh = 0; kh < p.kernel_h; ++kh) {
      for (std::size_t kw = 0; kw < p.kernel_w; ++kw) {
        float* row = columns + ((c * p.kernel_h + kh) * p.kernel_w + kw) * positions;
        for (std::size_t oh = 0; oh < p.out_h; ++oh) {
          const float* from =
              packed +
              ((c * p.rows + oh * p.stride_h + kh) * p.stride_w + kw % p.stride_w) * p.row_stride +
              kw / p.stride_w;
          std::memcpy(row + oh * p.out_w, from, p.out_w * sizeof(float));
        }
      }
    }
  }
}

}  // namespace

std::size_t columns_size(const Conv2dShape& s) {
  return s.in_channels * s.kernel_h * s.kernel_w * s.out_h() * s.out_w();
}

void forward(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* w,
             const float* bias, float* columns, float* y) {
  const std::size_t taps = s.in_channels * s.kernel_h * s.kernel_w;
  const std::size_t positions = p.out_h * p.out_w;
  unroll(p, packed, columns);
  sgemm(Trans::kNo, Trans::kNo, s.out_channels, positions, taps, 1.0f, w, taps, columns, positions,
        0.0f, y, positions);
  if (bias == nullptr) return;
  for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
    for (std::size_t i = 0; i < positions; ++i) y[oc * positions + i] += bias[oc];
  }
}

void weight_grad(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* dy,
                 float* columns, float* dw) {
  const std::size_t taps = s.in_channels * s.kernel_h * s.kernel_w;
  const std::size_t positions = p.out_h * p.out_w;
  unroll(p, packed, columns);
  sgemm(Trans::kNo, Trans::kYes, s.out_channels, taps, positions, 1.0f, dy, positions, columns,
        positions, 1.0f, dw, taps);
}

void backward_data(const Conv2dShape& s, const float* dy, const float* w, float* columns,
                   float* padded, float* dx) {
  const std::size_t taps = s.in_channels * s.kernel_h * s.kernel_w;
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), positions = out_h * out_w;
  sgemm(Trans::kYes, Trans::kNo, taps, positions, s.out_channels, 1.0f, w, taps, dy, positions,
        0.0f, columns, positions);
  // col2im: every column value back to its input position, summed in (tap, position) order.
  const std::size_t padded_h = s.in_h + 2 * s.pad_h, padded_w = s.in_w + 2 * s.pad_w;
  std::memset(padded, 0, s.in_channels * padded_h * padded_w * sizeof(float));
  for (std::size_t c = 0; c < s.in_channels; ++c) {
    for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
      for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
        const float* row = columns + ((c * s.kernel_h + kh) * s.kernel_w + kw) * positions;
        for (std::size_t oh = 0; oh < out_h; ++oh) {
          float* to = padded + (c * padded_h + oh * s.stride_h + kh) * padded_w + kw;
          for (std::size_t ow = 0; ow < out_w; ++ow) to[ow * s.stride_w] += row[oh * out_w + ow];
        }
      }
    }
  }
  for (std::size_t c = 0; c < s.in_channels; ++c) {
    for (std::size_t i = 0; i < s.in_h; ++i) {
      std::memcpy(dx + (c * s.in_h + i) * s.in_w,
                  padded + (c * padded_h + s.pad_h + i) * padded_w + s.pad_w,
                  s.in_w * sizeof(float));
    }
  }
}

}  // namespace odyssey::conv_gemm
