// im2col + sgemm weight gradient for one sample. The sgemm calls come from inside the front end's
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

void weight_grad(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* dy,
                 float* columns, float* dw) {
  const std::size_t taps = s.in_channels * s.kernel_h * s.kernel_w;
  const std::size_t positions = p.out_h * p.out_w;
  unroll(p, packed, columns);
  sgemm(Trans::kNo, Trans::kYes, s.out_channels, taps, positions, 1.0f, dy, positions, columns,
        positions, 1.0f, dw, taps);
}

}  // namespace odyssey::conv_gemm
