// 2-D convolution (NCHW input, weight (out, in / groups, kh, kw) as PyTorch, any padding, dilation
// and groups): forward with a fused bias, the input gradient and the weight gradient with a fused
// bias gradient.
#pragma once

#include <cstddef>

#include "odyssey/dispatch.h"

namespace odyssey {

// in_channels and out_channels count every group; group g maps input channels
// [g * in_channels / groups, (g + 1) * in_channels / groups) to the same slice of output channels,
// by weights w[g * out_channels / groups ...] of shape (out_channels / groups, in_channels /
// groups, kernel_h, kernel_w). Tap (kh, kw) of output (oh, ow) reads padded input row oh * stride_h
// + kh * dilation_h and column ow * stride_w + kw * dilation_w.
struct Conv2dShape {
  std::size_t batch, in_channels, in_h, in_w;
  std::size_t out_channels, kernel_h, kernel_w;
  std::size_t stride_h, stride_w, pad_h, pad_w;
  std::size_t dilation_h = 1, dilation_w = 1, groups = 1;

  // The rows and columns one output's taps span.
  std::size_t extent_h() const { return dilation_h * (kernel_h - 1) + 1; }
  std::size_t extent_w() const { return dilation_w * (kernel_w - 1) + 1; }
  // Floor mode, as PyTorch. The caller guarantees stride, dilation and groups >= 1, channel counts
  // divisible by groups, and a dilated kernel that fits the padded input.
  std::size_t out_h() const { return (in_h + 2 * pad_h - extent_h()) / stride_h + 1; }
  std::size_t out_w() const { return (in_w + 2 * pad_w - extent_w()) / stride_w + 1; }
  std::size_t group_in() const { return in_channels / groups; }
  std::size_t group_out() const { return out_channels / groups; }
};

// The widest vector any variant loads; packed rows are padded to a multiple of it, so kernels load
// whole vectors without bounds checks and discard the lanes past the output width.
inline constexpr std::size_t kConvMaxLanes = 16;

// One sample's input, zero-padded and split by column phase so that a strided convolution reads
// contiguous vectors: padded column q of row r of channel c lives at
//   data[((c * rows + r) * stride_w + q % stride_w) * row_stride + q / stride_w].
// The direct kernels compute out_h x out_w outputs from `channels` such planes.
struct PackedConv {
  std::size_t channels, rows, row_stride;
  std::size_t out_channels, kernel_h, kernel_w, stride_h, stride_w, out_h, out_w;
  // Only rows data_begin, data_begin + data_step, ... below data_end hold input; the others are
  // padding or inserted zeros, and the forward kernels skip them.
  std::size_t data_begin, data_end, data_step;

  // The kernel rows [first, end) stepping by data_step that meet input rows for output row oh.
  std::size_t first_kernel_row(std::size_t oh) const {
    const std::size_t top = oh * stride_h;
    return top >= data_begin ? (data_step - (top - data_begin) % data_step) % data_step
                             : data_begin - top;
  }
  std::size_t end_kernel_row(std::size_t oh) const {
    const std::size_t top = oh * stride_h;
    return data_end <= top ? 0 : (data_end - top < kernel_h ? data_end - top : kernel_h);
  }
};

// Samples in the vector lanes, for stride-1 shapes whose planes and channel counts are both too
// small to fill vectors: kLanes samples are transposed side by side ("lane-major": value l of a
// position is sample l), so every lane of every FMA is a useful product and the boundaries are
// skipped rather than multiplied as zeros. The convolution form covers the forward (weights
// flipped) and the input gradient (weights transposed):
//   out[co][i][j] = sum over (ci, kh, kw) of w[((co * Ci + ci) * KH + kh) * KW + kw]
//                   * in[ci][i - kh + pad_h][j - kw + pad_w]   (terms outside `in` skipped).
struct BatchConv {
  std::size_t in_channels, in_h, in_w;
  std::size_t out_channels, out_h, out_w;
  std::size_t kernel_h, kernel_w, pad_h, pad_w;
};

// A run of Winograd F(4x4, 3x3) tiles of a group of samples in lanes (conv_winograd.cc): the
// input planes are (channels, rows, columns, lanes) with rows = 4 * tiles_h + 2 and columns =
// 4 * tiles_w + 2 (the padded input of a stride-1 3x3 correlation whose output is 4 * tiles_h x
// 4 * tiles_w), and the run is tiles [begin, begin + count), numbered row by row.
struct WinogradTiles {
  std::size_t channels, rows, columns, tiles_w, begin, count;
};

// One ISA's direct kernels for one sample. `x` is packed as PackedConv says; `w` is
// (out_channels, channels, kernel_h, kernel_w); `y` and `dy` are (out_channels, out_h, out_w).
struct ConvKernels {
  // Vector width in floats (1 for the scalar reference).
  std::size_t lanes;
  // y = conv(x, w) + bias (bias may be nullptr), with output columns in the vector lanes.
  void (*forward)(const PackedConv& p, const float* x, const float* w, const float* bias, float* y);
  // The same with output channels in the lanes, for planes too narrow to fill vectors. `w` holds
  // blocks of `lanes` channels: w[(((oc / lanes) * channels + c) * kh_n + kh) * kw_n + kw] is a
  // vector of `lanes` weights, zero past the last channel; `bias` is zero-padded to whole blocks.
  void (*forward_lanes)(const PackedConv& p, const float* x, const float* w, const float* bias,
                        float* y);
  // dw += correlation of x with dy, summed over the output plane.
  void (*weight_grad)(const PackedConv& p, const float* x, const float* dy, float* dw);
  // The same with output channels in the lanes: `dy_t` is dy transposed to (out_h * out_w,
  // padded channels), channels zero-padded to whole blocks of `lanes`, and `dw` is blocked as
  // forward_lanes's weights.
  void (*weight_grad_lanes)(const PackedConv& p, const float* x, const float* dy_t, float* dw);
  // dy_t[i * padded + oc] = dy[oc * plane + i] for oc < channels, zero up to `padded` (a multiple
  // of lanes): weight_grad_lanes's layout of one sample's output gradient.
  void (*transpose_channels)(const float* dy, std::size_t channels, std::size_t plane,
                             std::size_t padded, float* dy_t);

  // The samples-in-lanes kernels (nullptr in the scalar reference, which has one lane and runs
  // the per-sample kernels instead). Kernel widths 3 and 5 only.
  //
  // `count` (<= lanes) samples, sample l at src + l * sample, each `planes` planes of h x w, to
  // dst[((p * (h + 2 pad_h) + pad_h + i) * (w + 2 pad_w) + pad_w + j) * lanes + l]; lanes past
  // count are written as zeros, the padding is left as it is.
  void (*transpose_batch)(const float* src, std::size_t sample, std::size_t count,
                          std::size_t planes, std::size_t h, std::size_t w, std::size_t pad_h,
                          std::size_t pad_w, float* dst);
  // Output channel co of `count` samples as BatchConv says, from `in_t` (Ci, in_h, in_w, lanes),
  // plus bias[co] unless bias is nullptr, written to out + l * out_sample for sample l (NCHW).
  void (*convolve_batch)(const BatchConv& g, const float* in_t, const float* w, const float* bias,
                         std::size_t co, std::size_t count, float* out, std::size_t out_sample);
  // dw[oc][c][kh][0 .. kw_n) for oc in [oc0, oc0 + oc_count), summed over `groups` groups of
  // lanes samples: x_t holds the groups' padded inputs (C, H + 2 pad_h, W + 2 pad_w, lanes), one
  // after another, dy_t their output gradients (OC, OH, OW, lanes). The sums run over groups,
  // then rows, then columns, lane by lane, and the lanes are added last.
  void (*weight_grad_batch)(const BatchConv& g, const float* x_t, const float* dy_t,
                            std::size_t groups, std::size_t oc0, std::size_t oc_count,
                            std::size_t c, std::size_t kh, float* dw);
  // The most output channels one weight_grad_batch call takes (its register block).
  std::size_t batch_grad_channels;

  // Winograd F(4x4, 3x3) on samples in lanes. winograd_input: the 36 transformed values B^T d B
  // of each tile of t and channel, to v[((e * t.channels + c) * t.count + b) * lanes] for tile
  // t.begin + b. winograd_output: A^T m A (+ bias[oc] unless nullptr) of each tile from m laid
  // out as v with t.channels output channels, written to y + l * sample for the first `samples`
  // lanes l (NCHW, output planes of 4 tiles_h x 4 tiles_w).
  // winograd_weights: element e of G g G^T of the 3x3 kernels g = w33[f * 9 ...], f < count, to
  // u[e * u_stride + f].
  void (*winograd_weights)(const float* w33, std::size_t count, float* u, std::size_t u_stride);
  void (*winograd_input)(const WinogradTiles& t, const float* x_t, float* v);
  void (*winograd_output)(const WinogradTiles& t, const float* m, const float* bias,
                          std::size_t samples, float* y, std::size_t sample);
  // The weight gradient. winograd_lift: the 36 values A dy A^T of each 4x4 tile of dy_t
  // (t.channels planes of (t.rows - 2) x (t.columns - 2), lanes innermost), laid out as
  // winograd_input's v. winograd_weights_back: dw[f * 9 + k] = element k of G^T m G for the
  // 6x6 matrices m[e * m_stride + f], f < count.
  void (*winograd_lift)(const WinogradTiles& t, const float* dy_t, float* v);
  void (*winograd_weights_back)(const float* m, std::size_t count, std::size_t m_stride, float* dw);
};

namespace scalar {
extern const ConvKernels kConv;
}
namespace avx2 {
extern const ConvKernels kConv;
}
namespace avx512 {
extern const ConvKernels kConv;
}
namespace neon {
extern const ConvKernels kConv;
}

const ConvKernels* conv_kernels(Isa isa);
inline const ConvKernels& conv_kernels() { return *conv_kernels(selected_isa()); }

// Samples per chunk of the weight gradient: each chunk keeps its own partial, and partials are
// summed in chunk order, so the bits do not depend on the thread count.
inline constexpr std::size_t kConvWeightGradGrain = 4;

enum class ConvAlgorithm { kDirectColumns, kDirectChannels, kDirectBatch, kIm2colGemm, kWinograd };
// The direct kernels take dilation 1 and padding below the kernel (the input gradient pads the
// output gradient by kernel - 1 - pad), a group at a time; other shapes run im2col + sgemm for
// every pass (conv_general.h), as does the input gradient of wide strided layers.
const char* conv_algorithm_name(ConvAlgorithm algorithm);

// The algorithm each pass runs for `s` on the selected ISA, from timings (see conv.cc). Between
// the direct kernels, whichever fills more vector lanes: output columns, output channels or (from
// one whole group of samples up, on small planes, without convolution groups) samples, judged on
// one convolution group's channels. The direct input gradient runs the forward kernels on the
// zero-dilated output gradient; with a stride, output channels and taps enough to fill the GEMM
// (AlexNet's conv1), im2col + sgemm skips those zeros. Wide stride-1 3x3 layers (32 channels or
// more in and out, one convolution group, a whole group of samples in lanes) take Winograd
// F(4x4, 3x3) for every pass whose planes are whole 4x4 tiles (conv_winograd.h): it rounds
// differently from the direct kernels, within 1e-4 of the sum of the products' magnitudes.
// The choice depends on the shape, batch
// included, so a sample's result is a function of the values and the whole shape: the same sample
// in a batch of 64 and alone may round differently, while thread count and buffer addresses never
// matter.
ConvAlgorithm conv2d_forward_algorithm(const Conv2dShape& s);
ConvAlgorithm conv2d_backward_data_algorithm(const Conv2dShape& s);
ConvAlgorithm conv2d_backward_weight_algorithm(const Conv2dShape& s);

// Whole-batch operations on the selected ISA, parallel over samples (the forward and the input
// gradient also over convolution groups). Scratch buffers are kept per thread and reused between
// calls. x (batch, in, H, W), w (out, in / groups, kh, kw), bias (out,) or nullptr -> y (batch,
// out, OH, OW).
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                    float* y);
// dy (batch, out, OH, OW), w -> dx (batch, in, H, W).
void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
// x, dy -> dw (out, in / groups, kh, kw) and, unless nullptr, db (out,).
void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                            float* db);

}  // namespace odyssey
