// Whole-batch convolution on the selected ISA's direct kernels: each sample's input is packed
// (zero-padded, split by column phase) into a per-thread buffer kept between calls, and the input
// gradient is the forward kernel run on the zero-dilated output gradient with flipped weights.
// Shapes whose channels and columns fill vectors poorly instead put samples in the lanes, a group
// of samples per task (BatchConv in conv.h). With convolution groups, each group of a sample is
// packed and run in turn on its slices of the input, weights and output; dilation and padding of a
// kernel's size or more go to im2col + sgemm (conv_general.h).
#include "odyssey/conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "conv_gemm.h"
#include "conv_general.h"
#include "conv_scratch.h"
#include "conv_winograd.h"
#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace odyssey {
namespace {

using conv_scratch::ScratchBuffer;

thread_local ScratchBuffer t_packed;
thread_local ScratchBuffer t_transposed;
thread_local ScratchBuffer t_columns;
// One group of samples in lanes: the input (or output gradient) and, for the weight gradient,
// the output gradient.
thread_local ScratchBuffer t_batch_in;
thread_local ScratchBuffer t_batch_grad;

std::size_t round_up(std::size_t n, std::size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

std::size_t packed_size(const PackedConv& p) {
  return p.channels * p.rows * p.stride_w * p.row_stride;
}

// Row stride of a packed plane: every padded column, and whole vectors of kConvMaxLanes from any
// output column of any kernel tap.
std::size_t packed_row_stride(std::size_t padded_w, std::size_t stride_w, std::size_t out_w,
                              std::size_t kernel_w) {
  const std::size_t columns = (padded_w + stride_w - 1) / stride_w;
  const std::size_t reach = round_up(out_w, kConvMaxLanes) + (kernel_w - 1) / stride_w;
  return columns > reach ? columns : reach;
}

// Writes `src` (channels, h, w) into `dst` laid out as `p` says, element (i, j) at padded position
// (pad_top + i * dilation_h, pad_left + j * dilation_w), zeros elsewhere. Column dilation comes
// only with unit column stride (the input gradient's zero-dilated dy), column phases only without
// dilation (strided forward and weight gradient). Each phase is a strided copy: no division per
// element, which for a depthwise stride-2 layer took most of the pass.
void pack(const PackedConv& p, const float* src, std::size_t h, std::size_t w,
          std::size_t dilation_h, std::size_t dilation_w, std::size_t pad_top, std::size_t pad_left,
          float* dst) {
  std::memset(dst, 0, packed_size(p) * sizeof(float));
  const std::size_t sw = p.stride_w;
  for (std::size_t c = 0; c < p.channels; ++c) {
    for (std::size_t i = 0; i < h; ++i) {
      const float* src_row = src + (c * h + i) * w;
      float* dst_row = dst + (c * p.rows + pad_top + i * dilation_h) * sw * p.row_stride;
      if (sw == 1 && dilation_w == 1) {
        std::memcpy(dst_row + pad_left, src_row, w * sizeof(float));
      } else if (sw == 1) {
        for (std::size_t j = 0; j < w; ++j) dst_row[pad_left + j * dilation_w] = src_row[j];
      } else {
        // Padded column q = pad_left + j lands in phase q % sw at column q / sw.
        for (std::size_t phase = 0; phase < sw; ++phase) {
          float* dst_phase = dst_row + phase * p.row_stride;
          std::size_t j = (phase + sw - pad_left % sw) % sw;
          for (std::size_t column = (pad_left + j) / sw; j < w; j += sw, ++column) {
            dst_phase[column] = src_row[j];
          }
        }
      }
    }
  }
}

PackedConv forward_geometry(const Conv2dShape& s) {
  const std::size_t out_w = s.out_w();
  return PackedConv{s.in_channels,
                    s.in_h + 2 * s.pad_h,
                    packed_row_stride(s.in_w + 2 * s.pad_w, s.stride_w, out_w, s.kernel_w),
                    s.out_channels,
                    s.kernel_h,
                    s.kernel_w,
                    s.stride_h,
                    s.stride_w,
                    s.out_h(),
                    out_w,
                    s.pad_h,
                    s.pad_h + s.in_h,
                    1};
}

// Geometry `whole` narrowed to one convolution group: `channels` planes in, `out_channels` out.
// Each group is packed on its own just before its kernels run, so its planes are still in cache
// (a depthwise layer's one plane in L1).
PackedConv group_geometry(PackedConv whole, std::size_t channels, std::size_t out_channels) {
  whole.channels = channels;
  whole.out_channels = out_channels;
  return whole;
}

double lane_fill(std::size_t n, std::size_t lanes) {
  return static_cast<double>(n) / static_cast<double>(round_up(n, lanes));
}

// Vectors of at least this many lanes (AVX2, AVX-512) were measured to take ties to the channel
// lanes; NEON's four keep the column lanes until measured.
inline constexpr std::size_t kTieLanes = 8;
// Vectors of at least this many lanes (AVX-512) were measured to take the channel-lane weight
// gradient over im2col + sgemm; on AVX2 the GEMM stayed ahead for 64 -> 64 3x3 32x32 (0.75-0.88x).
inline constexpr std::size_t kWeightLanes = 16;

// Channels in the lanes where they fill the vectors better, or as well when `slide` on vectors
// of kTieLanes or more: kernel widths 3 and 5 at unit column stride take the sliding channel-lane
// block, which keeps a kernel row's weights in registers and was ahead of the column-lane kernels
// at every tie measured (see the figures above conv2d_forward_algorithm).
ConvAlgorithm choose(std::size_t out_channels, std::size_t out_w, bool slide) {
  const std::size_t lanes = conv_kernels().lanes;
  const double channels = lane_fill(out_channels, lanes), columns = lane_fill(out_w, lanes);
  return channels > columns || (slide && lanes >= kTieLanes && channels == columns)
             ? ConvAlgorithm::kDirectChannels
             : ConvAlgorithm::kDirectColumns;
}

// Whether the channel-lane forward (and the input gradient, a unit-stride forward) of shape s
// runs the sliding block.
bool slides(const Conv2dShape& s, std::size_t stride_w) {
  return stride_w == 1 && (s.kernel_w == 3 || s.kernel_w == 5);
}

// The largest padded input of one group of samples in lanes that the samples-in-lanes kernels
// take. They were measured ahead on LeNet's planes and 16x16 ones; on 112x112 planes (16 -> 16
// channels, 3x3) their weight gradient took 1.5x the per-sample kernels' time, and each thread's
// group buffers grow with the plane (about 100 MB at 224x224).
inline constexpr std::size_t kBatchGroupMaxBytes = std::size_t{1} << 20;

// Whether the samples-in-lanes kernels take shape s: a vector ISA, one convolution group, unit
// strides, kernel width 3 or 5, at least one whole group of samples, and a group small enough to
// stay in cache.
bool batch_fits(const Conv2dShape& s) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t group_bytes = s.in_channels * (s.in_h + 2 * s.pad_h) * (s.in_w + 2 * s.pad_w) *
                                  kernels.lanes * sizeof(float);
  return kernels.transpose_batch != nullptr && s.groups == 1 && s.stride_h == 1 &&
         s.stride_w == 1 && (s.kernel_w == 3 || s.kernel_w == 5) && s.batch >= kernels.lanes &&
         group_bytes <= kBatchGroupMaxBytes;
}

// Samples in lanes where they fill the vectors better than the per-sample kernels' best choice
// (`channels` and `width` are what those would put in the lanes), or as well when `on_tie`.
ConvAlgorithm choose_with_batch(const Conv2dShape& s, std::size_t channels, std::size_t width,
                                bool on_tie, bool slide) {
  const std::size_t lanes = conv_kernels().lanes;
  const double per_sample = std::max(lane_fill(channels, lanes), lane_fill(width, lanes));
  const double batch = lane_fill(s.batch, lanes);
  if (batch_fits(s) && (batch > per_sample || (on_tie && batch == per_sample))) {
    return ConvAlgorithm::kDirectBatch;
  }
  return choose(channels, width, slide);
}

std::size_t num_groups(std::size_t batch) { return num_chunks(batch, conv_kernels().lanes); }

// Floats of one group of samples in lanes: `planes` planes of h x w with the padding.
std::size_t batch_group_size(std::size_t planes, std::size_t h, std::size_t w, std::size_t pad_h,
                             std::size_t pad_w) {
  return planes * (h + 2 * pad_h) * (w + 2 * pad_w) * conv_kernels().lanes;
}

// Samples [group * lanes, group * lanes + count) of `src` (samples of planes x h x w) to one group
// of samples in lanes at `dst`, padded with zeros.
void transpose_group(const float* src, std::size_t group, std::size_t batch, std::size_t planes,
                     std::size_t h, std::size_t w, std::size_t pad_h, std::size_t pad_w,
                     float* dst) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t lanes = kernels.lanes, sample = planes * h * w;
  const float* from = src + group * lanes * sample;
  const std::size_t count = std::min(lanes, batch - group * lanes);
  if (pad_h == 0 && pad_w == 0) {
    // Planes without padding are one run of positions.
    kernels.transpose_batch(from, sample, count, 1, 1, sample, 0, 0, dst);
    return;
  }
  // Only the padding needs zeros; the transpose writes the rest.
  const std::size_t padded_h = h + 2 * pad_h, row = (w + 2 * pad_w) * lanes;
  for (std::size_t p = 0; p < planes; ++p) {
    float* plane = dst + p * padded_h * row;
    std::memset(plane, 0, pad_h * row * sizeof(float));
    std::memset(plane + (pad_h + h) * row, 0, pad_h * row * sizeof(float));
    for (std::size_t i = pad_h; i < pad_h + h; ++i) {
      std::memset(plane + i * row, 0, pad_w * lanes * sizeof(float));
      std::memset(plane + i * row + (pad_w + w) * lanes, 0, pad_w * lanes * sizeof(float));
    }
  }
  kernels.transpose_batch(from, sample, count, planes, h, w, pad_h, pad_w, dst);
}

// The batch's outputs for geometry g from `in` (NCHW, batch x in_channels planes), a group of
// samples per task: each thread transposes its group into its own buffer and convolves it there.
void convolve_groups(const BatchConv& g, std::size_t batch, const float* in, const float* w,
                     const float* bias, float* out) {
  const std::size_t lanes = conv_kernels().lanes;
  const std::size_t out_sample = g.out_channels * g.out_h * g.out_w;
  const std::size_t in_group = batch_group_size(g.in_channels, g.in_h, g.in_w, 0, 0);
  parallel_for(num_groups(batch), 1, [&](std::size_t begin, std::size_t end) {
    float* in_t = t_batch_in.get(in_group);
    for (std::size_t group = begin; group < end; ++group) {
      transpose_group(in, group, batch, g.in_channels, g.in_h, g.in_w, 0, 0, in_t);
      const std::size_t count = std::min(lanes, batch - group * lanes);
      for (std::size_t co = 0; co < g.out_channels; ++co) {
        conv_kernels().convolve_batch(g, in_t, w, bias, co, count, out + group * lanes * out_sample,
                                      out_sample);
      }
    }
  });
}

// The forward kernel of an algorithm with its weights and bias laid out as it reads them.
struct ForwardPlan {
  void (*kernel)(const PackedConv&, const float*, const float*, const float*, float*);
  std::vector<float> blocked_w, blocked_bias;
  const float* w;
  const float* bias;
};

// `w` is (out_channels, channels, taps).
ForwardPlan plan_forward(ConvAlgorithm algorithm, const float* w, const float* bias,
                         std::size_t out_channels, std::size_t channels, std::size_t taps) {
  const ConvKernels& kernels = conv_kernels();
  if (algorithm == ConvAlgorithm::kDirectColumns) return {kernels.forward, {}, {}, w, bias};
  ForwardPlan plan{kernels.forward_lanes, {}, {}, nullptr, nullptr};
  const std::size_t lanes = kernels.lanes, padded = round_up(out_channels, lanes);
  plan.blocked_w.assign(padded * channels * taps, 0.0f);
  for (std::size_t oc = 0; oc < out_channels; ++oc) {
    for (std::size_t i = 0; i < channels * taps; ++i) {
      plan.blocked_w[((oc / lanes) * channels * taps + i) * lanes + oc % lanes] =
          w[oc * channels * taps + i];
    }
  }
  plan.w = plan.blocked_w.data();
  if (bias != nullptr) {
    plan.blocked_bias.assign(padded, 0.0f);
    std::memcpy(plan.blocked_bias.data(), bias, out_channels * sizeof(float));
    plan.bias = plan.blocked_bias.data();
  }
  return plan;
}

// Whether a stride-1 3x3 pass of shape s correlating `in` channels into `out` channels takes
// Winograd: wide layers and a whole group of samples in lanes.
bool winograd_wide(const Conv2dShape& s, std::size_t in, std::size_t out) {
  return s.groups == 1 && s.kernel_h == 3 && s.kernel_w == 3 && s.stride_h == 1 &&
         s.stride_w == 1 && in >= 32 && out >= 32 && s.batch >= conv_kernels().lanes;
}

}  // namespace

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kDirectColumns:
      return "direct, output columns in lanes";
    case ConvAlgorithm::kDirectChannels:
      return "direct, output channels in lanes";
    case ConvAlgorithm::kDirectBatch:
      return "direct, samples in lanes";
    case ConvAlgorithm::kIm2colGemm:
      return "im2col + sgemm";
    case ConvAlgorithm::kWinograd:
      return "Winograd F(4x4, 3x3), samples in lanes";
  }
  return "";
}

// The rules come from timing the algorithms on one AVX-512 core (microseconds, direct vs im2col +
// sgemm; forward, input gradient, weight gradient; the im2col forward and input gradient were
// dropped once the direct kernels beat them everywhere, their last figures are kept here):
//   64 x 1->6 5x5 pad 2 28x28:     149 vs 317,     318 vs 1458,    261 vs 435
//   64 x 6->16 5x5 14x14:          229 vs 752,     511 vs 815,     234 vs 695
//   16 x 64->64 3x3 pad 1 32x32: 10102 vs 13018, 10168 vs 12914, 19373 vs 11347
//   16 x 16->32 3x3 pad 1 16x16:   360 vs 470,     382 vs 628,     642 vs 503
// The column-lane weight gradient's horizontal sums and strided dy reads lose to the GEMM once
// there are 32 output channels and 64 taps to fill its tiles; the channel-lane one, where channels
// fill the vectors at least as well as columns, beats both. Column lanes / channel lanes / im2col
// + sgemm against PyTorch's time (ratio, above 1 faster; 1 thread, alternating rounds):
//   32 x 64->64 3x3 pad 1 32x32:  forward 0.67-0.71 / 0.86 / 0.61-0.63,
//                                 input gradient 0.86-0.95 / 1.09-1.11 / 0.56-0.59,
//                                 weight gradient 0.49 / 1.27 / 0.85
//   16 x 32->32 3x3 pad 1 32x32:  0.86 / 1.20 / 0.66,  0.96 / 1.33 / 0.41,  0.87 / 1.43 / 0.86
//   16 x 16->32 3x3 pad 1 16x16:  weight gradient 0.47 / 1.37 / 0.74
//   8 x 16->16 5x5 pad 2 64x64:   1.01 / 1.36 / 0.42,  0.98 / 1.37 / 0.20
//   8 x 48->128 5x5 pad 2 27x27, 16 x 64->128 3x3 16x16, 16 x 128->128 3x3 8x8: weight gradient
//                                 0.33 / 0.97 / 0.73,  0.33 / 0.98 / 0.83,  0.16 / 0.84 / 0.70
// Samples in lanes against the per-sample direct kernels (AVX-512, microseconds on 1 / 2 threads,
// best of several runs on a shared machine; forward, input gradient, weight gradient):
//   64 x 1->6 5x5 pad 2 28x28:  171 / 118 vs 170 / 110,  -,  257 / 110 vs 262 / 177
//   64 x 6->16 5x5 14x14:       -,  255 / 175 vs 555 / 360,  246 / 136 vs 265 / 167
// Where the per-sample kernels fill their lanes as well (16 channels, 16 or 32 columns), the
// forwards were within the noise (the per-sample kernels keep them) and the samples-in-lanes
// weight gradient, which needs no dy transpose per sample nor chunk partials, was ahead; with 64
// or 128 output channels the channel lanes were (weight gradient, ms, 1 thread, samples / channel
// lanes): 64 x 32->64 3x3 pad 1 16x16: 7.9 / 4.5;  64 x 64->128 3x3 pad 1 8x8: 5.2 / 5.1.
// Strided input gradients, ms on 1 thread (column lanes / channel lanes / im2col + sgemm):
//   8 x 3->64 11x11 stride 4 pad 2 224x224:  58.4 / 261 / 16.5   (PyTorch 52)
//   16 x 64->128 3x3 stride 2 pad 1 32x32:   15.6 / 10.5 / 6.4
//   32 x 16->32 3x3 stride 2 pad 1 32x32:    2.03 / 1.42 / 1.73
//   16 x 3->16 5x5 stride 2 pad 2 64x64:     1.13 / 3.09 / 1.31
// Winograd F(4x4, 3x3) against the direct kernels' pick, ms on 1 thread of a shared machine
// (forward, input gradient, weight gradient):
//   64 x 32->64 3x3 pad 1 16x16:   10.0 / 7.1,  16.1 / 7.2,  4.4 / 3.2
//   64 x 64->128 3x3 pad 1 8x8:     9.3 / 6.9,  10.1 / 6.9,  5.1 / 2.8
//   16 x 64->64 3x3 pad 1 32x32:   30.5 / 20.2, 28.6 / 19.3, 25.3 / 23.4
ConvAlgorithm conv2d_forward_algorithm(const Conv2dShape& s) {
  if (!conv_general::direct_fits(s)) return ConvAlgorithm::kIm2colGemm;
  if (winograd_wide(s, s.in_channels, s.out_channels) &&
      conv_winograd::fits(s.in_channels, s.in_h, s.in_w, s.out_channels, s.pad_h, s.pad_w)) {
    return ConvAlgorithm::kWinograd;
  }
  return choose_with_batch(s, s.group_out(), s.out_w(), false, slides(s, s.stride_w));
}

ConvAlgorithm conv2d_backward_data_algorithm(const Conv2dShape& s) {
  if (!conv_general::direct_fits(s)) return ConvAlgorithm::kIm2colGemm;
  // A strided layer's direct input gradient multiplies the zeros inserted between dy's columns;
  // the GEMM's depth is the output channels.
  const bool strided = s.stride_h > 1 || s.stride_w > 1;
  if (strided && s.group_out() >= 64 && s.group_in() * s.kernel_h * s.kernel_w >= 64) {
    return ConvAlgorithm::kIm2colGemm;
  }
  if (winograd_wide(s, s.out_channels, s.in_channels) &&
      conv_winograd::fits(s.out_channels, s.out_h(), s.out_w(), s.in_channels, 2 - s.pad_h,
                          2 - s.pad_w)) {
    return ConvAlgorithm::kWinograd;
  }
  return choose_with_batch(s, s.group_in(), s.in_w, false, slides(s, 1));
}

ConvAlgorithm conv2d_backward_weight_algorithm(const Conv2dShape& s) {
  if (!conv_general::direct_fits(s)) return ConvAlgorithm::kIm2colGemm;
  if (winograd_wide(s, s.in_channels, s.out_channels) &&
      conv_winograd::fits(s.in_channels, s.in_h, s.in_w, s.out_channels, s.pad_h, s.pad_w)) {
    return ConvAlgorithm::kWinograd;
  }
  const std::size_t taps = s.group_in() * s.kernel_h * s.kernel_w;
  const bool gemm_fills = s.group_out() >= 32 && taps >= 64;
  if (conv_kernels().lanes < kWeightLanes) {
    return gemm_fills ? ConvAlgorithm::kIm2colGemm
                      : choose_with_batch(s, s.group_out(), s.out_w(), true, false);
  }
  // Samples in lanes take ties up to one vector of output channels: their register block of
  // a few channels reads the whole group's input once per block.
  const bool batch_on_tie = s.group_out() <= conv_kernels().lanes;
  const ConvAlgorithm direct = choose_with_batch(s, s.group_out(), s.out_w(), batch_on_tie, true);
  return direct == ConvAlgorithm::kDirectColumns && gemm_fills ? ConvAlgorithm::kIm2colGemm
                                                               : direct;
}

const ConvKernels* conv_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(ConvKernels, kConv);
  return kTables.get(isa);
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias,
                    float* y) {
  if (!conv_general::direct_fits(s)) return conv_general::forward(s, x, w, bias, y);
  const PackedConv p = forward_geometry(s);
  const std::size_t y_sample = s.out_channels * p.out_h * p.out_w;
  if (y_sample == 0) return;  // nothing to write, however large the batch
  const ConvAlgorithm algorithm = conv2d_forward_algorithm(s);
  if (algorithm == ConvAlgorithm::kWinograd) {
    return conv_winograd::correlate(s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels, s.pad_h,
                                    s.pad_w, x, w, bias, y);
  }
  if (algorithm == ConvAlgorithm::kDirectBatch) {
    // A correlation is a convolution by the flipped kernel with the padding mirrored.
    const std::size_t taps = s.kernel_h * s.kernel_w;
    std::vector<float> flipped(s.out_channels * s.in_channels * taps);
    for (std::size_t i = 0; i < flipped.size(); ++i) {
      flipped[i] = w[i / taps * taps + taps - 1 - i % taps];
    }
    const BatchConv g{
        s.in_channels, s.in_h,     s.in_w,     s.out_channels,           p.out_h,
        p.out_w,       s.kernel_h, s.kernel_w, s.kernel_h - 1 - s.pad_h, s.kernel_w - 1 - s.pad_w};
    convolve_groups(g, s.batch, x, flipped.data(), bias, y);
    return;
  }
  const std::size_t cg = s.group_in(), ocg = s.group_out(), taps = s.kernel_h * s.kernel_w;
  const PackedConv p_g = group_geometry(p, cg, ocg);
  std::vector<ForwardPlan> plans;
  plans.reserve(s.groups);
  for (std::size_t g = 0; g < s.groups; ++g) {
    plans.push_back(plan_forward(algorithm, w + g * ocg * cg * taps,
                                 bias != nullptr ? bias + g * ocg : nullptr, ocg, cg, taps));
  }
  // One task per convolution group of a sample (task n * groups + g), each writing its own slice.
  const std::size_t x_group = cg * s.in_h * s.in_w, y_group = ocg * p.out_h * p.out_w;
  parallel_for(s.batch * s.groups, 1, [&](std::size_t begin, std::size_t end) {
    float* packed = t_packed.get(packed_size(p_g));
    for (std::size_t task = begin; task < end; ++task) {
      pack(p_g, x + task * x_group, s.in_h, s.in_w, 1, 1, s.pad_h, s.pad_w, packed);
      const ForwardPlan& plan = plans[task % s.groups];
      plan.kernel(p_g, packed, plan.w, plan.bias, y + task * y_group);
    }
  });
}

// dx[c][i][j] = sum over (oc, kh, kw) of dy[oc][(i + pad - kh) / stride][...] * w[oc][c][kh][kw],
// where the division is exact: a stride-1 convolution of dy, with zeros inserted between its
// elements and kernel - 1 - pad around them, by the weights flipped and with in/out swapped.
void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  if (!conv_general::direct_fits(s)) return conv_general::backward_data(s, dy, w, dx);
  const std::size_t out_h = s.out_h(), out_w = s.out_w();
  const std::size_t dx_sample = s.in_channels * s.in_h * s.in_w;
  if (dx_sample == 0) return;  // nothing to write, however large the batch
  const ConvAlgorithm algorithm = conv2d_backward_data_algorithm(s);
  if (algorithm == ConvAlgorithm::kIm2colGemm) return conv_general::backward_data(s, dy, w, dx);
  const std::size_t taps = s.kernel_h * s.kernel_w;
  if (algorithm == ConvAlgorithm::kWinograd) {
    // The definition above at stride 1: a correlation of dy padded by 2 - pad with w flipped and
    // transposed to (in, out, 3, 3).
    std::vector<float> flipped(s.out_channels * s.in_channels * 9);
    for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
      for (std::size_t c = 0; c < s.in_channels; ++c) {
        for (std::size_t t = 0; t < 9; ++t) {
          flipped[(c * s.out_channels + oc) * 9 + t] = w[(oc * s.in_channels + c) * 9 + 8 - t];
        }
      }
    }
    return conv_winograd::correlate(s.batch, s.out_channels, out_h, out_w, s.in_channels,
                                    2 - s.pad_h, 2 - s.pad_w, dy, flipped.data(), nullptr, dx);
  }
  if (algorithm == ConvAlgorithm::kDirectBatch) {
    // The definition above with in and out channels swapped: w transposed, not flipped.
    std::vector<float> transposed(s.out_channels * s.in_channels * taps);
    for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
      for (std::size_t c = 0; c < s.in_channels; ++c) {
        std::memcpy(transposed.data() + (c * s.out_channels + oc) * taps,
                    w + (oc * s.in_channels + c) * taps, taps * sizeof(float));
      }
    }
    const BatchConv g{s.out_channels, out_h,      out_w,      s.in_channels, s.in_h,
                      s.in_w,         s.kernel_h, s.kernel_w, s.pad_h,       s.pad_w};
    convolve_groups(g, s.batch, dy, transposed.data(), nullptr, dx);
    return;
  }
  // Per convolution group, w (ocg, cg, taps) flipped and transposed to (cg, ocg, taps).
  const std::size_t cg = s.group_in(), ocg = s.group_out(), group_w = ocg * cg * taps;
  std::vector<float> flipped(s.groups * group_w);
  std::vector<ForwardPlan> plans;
  plans.reserve(s.groups);
  for (std::size_t g = 0; g < s.groups; ++g) {
    for (std::size_t oc = 0; oc < ocg; ++oc) {
      for (std::size_t c = 0; c < cg; ++c) {
        const float* from = w + g * group_w + (oc * cg + c) * taps;
        float* to = flipped.data() + g * group_w + (c * ocg + oc) * taps;
        for (std::size_t t = 0; t < taps; ++t) to[t] = from[taps - 1 - t];
      }
    }
    plans.push_back(plan_forward(algorithm, flipped.data() + g * group_w, nullptr, cg, ocg, taps));
  }
  const PackedConv p{s.out_channels,
                     s.in_h + s.kernel_h - 1,
                     packed_row_stride(s.in_w + s.kernel_w - 1, 1, s.in_w, s.kernel_w),
                     s.in_channels,
                     s.kernel_h,
                     s.kernel_w,
                     1,
                     1,
                     s.in_h,
                     s.in_w,
                     s.kernel_h - 1 - s.pad_h,
                     s.kernel_h - 1 - s.pad_h + (out_h - 1) * s.stride_h + 1,
                     s.stride_h};
  const PackedConv p_g = group_geometry(p, ocg, cg);
  // One task per convolution group of a sample (task n * groups + g), each writing its own slice.
  const std::size_t dy_group = ocg * out_h * out_w, dx_group = cg * s.in_h * s.in_w;
  parallel_for(s.batch * s.groups, 1, [&](std::size_t begin, std::size_t end) {
    float* packed = t_packed.get(packed_size(p_g));
    for (std::size_t task = begin; task < end; ++task) {
      pack(p_g, dy + task * dy_group, out_h, out_w, s.stride_h, s.stride_w,
           s.kernel_h - 1 - s.pad_h, s.kernel_w - 1 - s.pad_w, packed);
      const ForwardPlan& plan = plans[task % s.groups];
      plan.kernel(p_g, packed, plan.w, nullptr, dx + task * dx_group);
    }
  });
}

namespace {

// The weight gradient with samples in lanes, a group of samples per task: each thread transposes
// its group's input and output gradient into its own buffers and sums every tap of the group there
// (the lanes added at the end), and the groups' partials are added in group order; the bias
// gradient adds per-sample plane sums in sample order.
void backward_weight_batch(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                           float* db) {
  const ConvKernels& kernels = conv_kernels();
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), plane = out_h * out_w;
  const std::size_t groups = num_groups(s.batch);
  const std::size_t dw_size = s.out_channels * s.in_channels * s.kernel_h * s.kernel_w;
  const BatchConv g{s.in_channels, s.in_h,     s.in_w,     s.out_channels, out_h,
                    out_w,         s.kernel_h, s.kernel_w, s.pad_h,        s.pad_w};
  // Near-equal blocks of output channels (6 -> 3 + 3) fill the register blocks evenly.
  const std::size_t blocks = num_chunks(s.out_channels, kernels.batch_grad_channels);
  const std::size_t base = s.out_channels / blocks, longer = s.out_channels % blocks;
  const auto plane_sum = eltwise_kernels().sum;
  std::vector<float> partials(groups * dw_size), sums(s.batch * s.out_channels);
  parallel_for(groups, 1, [&](std::size_t begin, std::size_t end) {
    float* x_t = t_batch_in.get(batch_group_size(s.in_channels, s.in_h, s.in_w, s.pad_h, s.pad_w));
    float* dy_t = t_batch_grad.get(batch_group_size(s.out_channels, out_h, out_w, 0, 0));
    for (std::size_t group = begin; group < end; ++group) {
      transpose_group(x, group, s.batch, s.in_channels, s.in_h, s.in_w, s.pad_h, s.pad_w, x_t);
      transpose_group(dy, group, s.batch, s.out_channels, out_h, out_w, 0, 0, dy_t);
      float* partial = partials.data() + group * dw_size;
      for (std::size_t block = 0; block < blocks; ++block) {
        const std::size_t oc0 = block * base + std::min(block, longer);
        const std::size_t count = base + (block < longer ? 1 : 0);
        for (std::size_t c = 0; c < s.in_channels; ++c) {
          for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
            kernels.weight_grad_batch(g, x_t, dy_t, 1, oc0, count, c, kh, partial);
          }
        }
      }
      if (db == nullptr) continue;
      // The selected ISA's vector sum: a plain loop is one dependent add after another.
      const std::size_t n_end = std::min(s.batch, (group + 1) * kernels.lanes);
      for (std::size_t n = group * kernels.lanes; n < n_end; ++n) {
        for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
          sums[n * s.out_channels + oc] =
              static_cast<float>(plane_sum(dy + (n * s.out_channels + oc) * plane, plane));
        }
      }
    }
  });
  std::memcpy(dw, partials.data(), dw_size * sizeof(float));
  for (std::size_t group = 1; group < groups; ++group) {
    const float* partial = partials.data() + group * dw_size;
    for (std::size_t i = 0; i < dw_size; ++i) dw[i] += partial[i];
  }
  if (db == nullptr) return;
  for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
    float total = 0.0f;
    for (std::size_t n = 0; n < s.batch; ++n) total += sums[n * s.out_channels + oc];
    db[oc] = total;
  }
}

}  // namespace

void conv2d_backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw,
                            float* db) {
  if (!conv_general::direct_fits(s)) return conv_general::backward_weight(s, x, dy, dw, db);
  const ConvKernels& kernels = conv_kernels();
  const auto plane_sum = eltwise_kernels().sum;
  const ConvAlgorithm algorithm = conv2d_backward_weight_algorithm(s);
  const bool lanes = algorithm == ConvAlgorithm::kDirectChannels;
  const PackedConv p = forward_geometry(s);
  const std::size_t x_sample = s.in_channels * s.in_h * s.in_w;
  const std::size_t plane = p.out_h * p.out_w;
  const std::size_t cg = s.group_in(), ocg = s.group_out();
  const std::size_t group_taps = cg * s.kernel_h * s.kernel_w;
  const std::size_t dw_size = s.out_channels * group_taps;
  if (dw_size == 0 && (db == nullptr || s.out_channels == 0)) return;  // nothing to write
  if (algorithm == ConvAlgorithm::kDirectBatch) return backward_weight_batch(s, x, dy, dw, db);
  if (algorithm == ConvAlgorithm::kWinograd) {
    return conv_winograd::weight_grad(s.batch, s.in_channels, s.in_h, s.in_w, s.out_channels,
                                      s.pad_h, s.pad_w, x, dy, dw, db);
  }
  // One convolution group's share of the input and its shape for the im2col + sgemm kernel.
  const PackedConv p_g = group_geometry(p, cg, ocg);
  const std::size_t x_group = cg * s.in_h * s.in_w;
  Conv2dShape s_g = s;
  s_g.in_channels = cg;
  s_g.out_channels = ocg;
  s_g.groups = 1;
  // The channel-lane kernel accumulates each group's dw blocked by whole vectors of channels.
  const std::size_t padded_channels = lanes ? round_up(ocg, kernels.lanes) : 0;
  const std::size_t group_accumulated = (lanes ? padded_channels : ocg) * group_taps;
  const std::size_t accumulated = s.groups * group_accumulated;
  // One partial (dw then db) per chunk of samples, summed in chunk order below.
  const std::size_t partial_size = accumulated + s.out_channels;
  const std::size_t chunks = num_chunks(s.batch, kConvWeightGradGrain);
  std::vector<float> partials(chunks * partial_size, 0.0f);
  parallel_for(s.batch, kConvWeightGradGrain, [&](std::size_t begin, std::size_t end) {
    float* packed = t_packed.get(packed_size(p_g));
    float* partial = partials.data() + begin / kConvWeightGradGrain * partial_size;
    for (std::size_t n = begin; n < end; ++n) {
      const float* dy_n = dy + n * s.out_channels * plane;
      for (std::size_t g = 0; g < s.groups; ++g) {
        pack(p_g, x + n * x_sample + g * x_group, s.in_h, s.in_w, 1, 1, s.pad_h, s.pad_w, packed);
        const float* dy_g = dy_n + g * ocg * plane;
        float* dw_g = partial + g * group_accumulated;
        if (algorithm == ConvAlgorithm::kIm2colGemm) {
          float* columns = t_columns.get(conv_gemm::columns_size(s_g));
          conv_gemm::weight_grad(s_g, p_g, packed, dy_g, columns, dw_g);
        } else if (lanes) {
          float* dy_t = t_transposed.get(plane * padded_channels);
          kernels.transpose_channels(dy_g, ocg, plane, padded_channels, dy_t);
          kernels.weight_grad_lanes(p_g, packed, dy_t, dw_g);
        } else {
          kernels.weight_grad(p_g, packed, dy_g, dw_g);
        }
      }
      if (db == nullptr) continue;
      // The selected ISA's vector sum: a plain loop is one dependent add after another.
      for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
        partial[accumulated + oc] += static_cast<float>(plane_sum(dy_n + oc * plane, plane));
      }
    }
  });
  std::vector<float> total(partial_size, 0.0f);
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    const float* partial = partials.data() + chunk * partial_size;
    for (std::size_t i = 0; i < partial_size; ++i) total[i] += partial[i];
  }
  if (lanes) {
    const std::size_t width = kernels.lanes;
    for (std::size_t g = 0; g < s.groups; ++g) {
      const float* blocked = total.data() + g * group_accumulated;
      for (std::size_t oc = 0; oc < ocg; ++oc) {
        for (std::size_t t = 0; t < group_taps; ++t) {
          dw[(g * ocg + oc) * group_taps + t] =
              blocked[((oc / width) * group_taps + t) * width + oc % width];
        }
      }
    }
  } else {
    std::memcpy(dw, total.data(), dw_size * sizeof(float));
  }
  if (db != nullptr) std::memcpy(db, total.data() + accumulated, s.out_channels * sizeof(float));
}

}  // namespace odyssey
