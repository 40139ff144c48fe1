// im2col + sgemm for any padding, stride, dilation and groups. Each task unrolls one sample's
// convolution group into a per-thread buffer of (in_channels / groups * kh * kw) rows by the
// output positions, then one sgemm gives the group's outputs (forward), the unrolled input
// gradient that is folded back onto the input (input gradient), or adds to the group's weight
// gradient.
#include "conv_general.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "conv_scratch.h"
#include "odyssey/eltwise.h"
#include "odyssey/gemm.h"
#include "odyssey/parallel.h"

namespace odyssey::conv_general {
namespace {

thread_local conv_scratch::ScratchBuffer t_columns;

using Offset = std::ptrdiff_t;

// The output columns [begin, end) whose tap at input offset `shift` (kw * dilation - pad) lands
// inside a row of `width` columns.
struct Span {
  std::size_t begin, end;
};

Span inside(Offset shift, std::size_t stride, std::size_t width, std::size_t out_w) {
  const auto step = static_cast<Offset>(stride);
  const Offset begin = shift >= 0 ? 0 : (-shift + step - 1) / step;
  const Offset last = static_cast<Offset>(width) - 1 - shift;  // ow * stride <= last
  const Offset end = last < 0 ? 0 : std::min(last / step + 1, static_cast<Offset>(out_w));
  const auto b = static_cast<std::size_t>(std::min(begin, static_cast<Offset>(out_w)));
  return {b, std::max(b, static_cast<std::size_t>(end))};
}

// The input row a tap reads for output row oh, or -1 above or below the input.
Offset input_row(const Conv2dShape& s, std::size_t oh, std::size_t kh) {
  const Offset row =
      static_cast<Offset>(oh * s.stride_h + kh * s.dilation_h) - static_cast<Offset>(s.pad_h);
  return row < static_cast<Offset>(s.in_h) ? row : -1;
}

Offset column_shift(const Conv2dShape& s, std::size_t kw) {
  return static_cast<Offset>(kw * s.dilation_w) - static_cast<Offset>(s.pad_w);
}

// columns[((c * KH + kh) * KW + kw) * positions + oh * OW + ow] = x[c][ih][iw] under that tap, or
// zero in the padding; `x` is one convolution group's in_channels / groups planes.
void unroll(const Conv2dShape& s, const float* x, float* columns) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), positions = out_h * out_w;
  for (std::size_t c = 0; c < s.group_in(); ++c) {
    const float* plane = x + c * s.in_h * s.in_w;
    for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
      for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
        float* row = columns + ((c * s.kernel_h + kh) * s.kernel_w + kw) * positions;
        const Offset shift = column_shift(s, kw);
        const Span span = inside(shift, s.stride_w, s.in_w, out_w);
        for (std::size_t oh = 0; oh < out_h; ++oh) {
          float* out = row + oh * out_w;
          const Offset ih = input_row(s, oh, kh);
          if (ih < 0) {
            std::fill(out, out + out_w, 0.0f);
            continue;
          }
          const float* in = plane + static_cast<std::size_t>(ih) * s.in_w;
          std::fill(out, out + span.begin, 0.0f);
          for (std::size_t ow = span.begin; ow < span.end; ++ow) {
            out[ow] = in[static_cast<Offset>(ow * s.stride_w) + shift];
          }
          std::fill(out + span.end, out + out_w, 0.0f);
        }
      }
    }
  }
}

// The inverse scatter of unroll: dx (one convolution group's planes) = the sum of every column
// entry at the input position it came from, added in the order of the columns.
void fold(const Conv2dShape& s, const float* columns, float* dx) {
  const std::size_t out_h = s.out_h(), out_w = s.out_w(), positions = out_h * out_w;
  std::fill(dx, dx + s.group_in() * s.in_h * s.in_w, 0.0f);
  for (std::size_t c = 0; c < s.group_in(); ++c) {
    float* plane = dx + c * s.in_h * s.in_w;
    for (std::size_t kh = 0; kh < s.kernel_h; ++kh) {
      for (std::size_t kw = 0; kw < s.kernel_w; ++kw) {
        const float* row = columns + ((c * s.kernel_h + kh) * s.kernel_w + kw) * positions;
        const Offset shift = column_shift(s, kw);
        const Span span = inside(shift, s.stride_w, s.in_w, out_w);
        for (std::size_t oh = 0; oh < out_h; ++oh) {
          const Offset ih = input_row(s, oh, kh);
          if (ih < 0) continue;
          float* out = plane + static_cast<std::size_t>(ih) * s.in_w;
          const float* in = row + oh * out_w;
          for (std::size_t ow = span.begin; ow < span.end; ++ow) {
            out[static_cast<Offset>(ow * s.stride_w) + shift] += in[ow];
          }
        }
      }
    }
  }
}

}  // namespace

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y) {
  const std::size_t positions = s.out_h() * s.out_w();
  if (s.out_channels * positions == 0) return;  // nothing to write, however large the batch
  const std::size_t cg = s.group_in(), ocg = s.group_out();
  const std::size_t taps = cg * s.kernel_h * s.kernel_w;
  parallel_for(s.batch * s.groups, 1, [&](std::size_t begin, std::size_t end) {
    float* columns = t_columns.get(taps * positions);
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t n = task / s.groups, g = task % s.groups;
      float* y_g = y + (n * s.out_channels + g * ocg) * positions;
      unroll(s, x + (n * s.in_channels + g * cg) * s.in_h * s.in_w, columns);
      if (bias != nullptr) {
        for (std::size_t oc = 0; oc < ocg; ++oc) {
          std::fill(y_g + oc * positions, y_g + (oc + 1) * positions, bias[g * ocg + oc]);
        }
      }
      sgemm(Trans::kNo, Trans::kNo, ocg, positions, taps, 1.0f, w + g * ocg * taps, taps, columns,
            positions, bias != nullptr ? 1.0f : 0.0f, y_g, positions);
    }
  });
}

void backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  const std::size_t positions = s.out_h() * s.out_w();
  if (s.in_channels * s.in_h * s.in_w == 0) return;  // nothing to write
  const std::size_t cg = s.group_in(), ocg = s.group_out();
  const std::size_t taps = cg * s.kernel_h * s.kernel_w;
  parallel_for(s.batch * s.groups, 1, [&](std::size_t begin, std::size_t end) {
    float* columns = t_columns.get(taps * positions);
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t n = task / s.groups, g = task % s.groups;
      sgemm(Trans::kYes, Trans::kNo, taps, positions, ocg, 1.0f, w + g * ocg * taps, taps,
            dy + (n * s.out_channels + g * ocg) * positions, positions, 0.0f, columns, positions);
      fold(s, columns, dx + (n * s.in_channels + g * cg) * s.in_h * s.in_w);
    }
  });
}

void backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  const std::size_t positions = s.out_h() * s.out_w();
  const std::size_t cg = s.group_in(), ocg = s.group_out();
  const std::size_t taps = cg * s.kernel_h * s.kernel_w;
  const std::size_t dw_size = s.out_channels * taps;
  if (dw_size == 0 && (db == nullptr || s.out_channels == 0)) return;  // nothing to write
  const auto plane_sum = eltwise_kernels().sum;
  // One partial (dw then db) per chunk of samples, summed in chunk order below.
  const std::size_t partial_size = dw_size + s.out_channels;
  const std::size_t chunks = num_chunks(s.batch, kConvWeightGradGrain);
  std::vector<float> partials(chunks * partial_size, 0.0f);
  parallel_for(s.batch, kConvWeightGradGrain, [&](std::size_t begin, std::size_t end) {
    float* columns = t_columns.get(taps * positions);
    float* partial = partials.data() + begin / kConvWeightGradGrain * partial_size;
    for (std::size_t n = begin; n < end; ++n) {
      const float* dy_n = dy + n * s.out_channels * positions;
      for (std::size_t g = 0; g < s.groups; ++g) {
        unroll(s, x + (n * s.in_channels + g * cg) * s.in_h * s.in_w, columns);
        sgemm(Trans::kNo, Trans::kYes, ocg, taps, positions, 1.0f, dy_n + g * ocg * positions,
              positions, columns, positions, 1.0f, partial + g * ocg * taps, taps);
      }
      if (db == nullptr) continue;
      // The selected ISA's vector sum: a plain loop is one dependent add after another.
      for (std::size_t oc = 0; oc < s.out_channels; ++oc) {
        partial[dw_size + oc] += static_cast<float>(plane_sum(dy_n + oc * positions, positions));
      }
    }
  });
  std::vector<float> total(partial_size, 0.0f);
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    const float* partial = partials.data() + chunk * partial_size;
    for (std::size_t i = 0; i < partial_size; ++i) total[i] += partial[i];
  }
  std::memcpy(dw, total.data(), dw_size * sizeof(float));
  if (db != nullptr) std::memcpy(db, total.data() + dw_size, s.out_channels * sizeof(float));
}

}  // namespace odyssey::conv_general
