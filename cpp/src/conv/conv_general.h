// The general convolution: im2col + sgemm for every pass, one convolution group at a time, for the
// shapes the direct kernels do not take (dilation above 1, padding of a kernel's size or more).
#pragma once

#include "odyssey/conv.h"

namespace odyssey::conv_general {

// Whether the direct kernels take `s`: dilation 1 and padding below the kernel on both axes.
inline bool direct_fits(const Conv2dShape& s) {
  return s.dilation_h == 1 && s.dilation_w == 1 && s.pad_h < s.kernel_h && s.pad_w < s.kernel_w;
}

// The whole-batch passes of conv.h for any shape, parallel over samples (and, where each task
// writes its own slice, convolution groups); sgemm runs serially inside each task, so the bits do
// not depend on the thread count. The weight gradient sums per-chunk partials in chunk order.
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y);
void backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void backward_weight(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db);

}  // namespace odyssey::conv_general
