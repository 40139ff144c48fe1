// Convolution as matrix products on unrolled input patches (im2col + sgemm), one sample at a time:
// for wide layers, where the GEMM's register tiles fill and the unrolling is cheap beside it.
#pragma once

#include <cstddef>

#include "odyssey/conv.h"

namespace odyssey::conv_gemm {

// Floats of scratch a sample needs: the unrolled patches (C * KH * KW) x (OH * OW).
std::size_t columns_size(const Conv2dShape& s);

// `packed` is the sample's input packed by the front end for PackedConv `p`; `columns` is scratch.
void forward(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* w,
             const float* bias, float* columns, float* y);
// dw += dy * columns^T for one sample.
void weight_grad(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* dy,
                 float* columns, float* dw);
// dx = col2im(w^T * dy) for one sample; `padded` is scratch of C * (H + 2 pad_h) * (W + 2 pad_w).
void backward_data(const Conv2dShape& s, const float* dy, const float* w, float* columns,
                   float* padded, float* dx);

}  // namespace odyssey::conv_gemm
