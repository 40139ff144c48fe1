// The weight gradient as a matrix product with unrolled input patches (im2col + sgemm), one sample
// at a time: for wide layers, where the GEMM's register tiles fill and the unrolling is cheap
// beside it. (The forward and input gradient run the direct kernels, or conv_general.h.)
#pragma once

#include <cstddef>

#include "odyssey/conv.h"

namespace odyssey::conv_gemm {

// Floats of scratch a sample needs: the unrolled patches (C * KH * KW) x (OH * OW).
std::size_t columns_size(const Conv2dShape& s);

// dw += dy * columns^T for one sample: `packed` is the sample's input packed by the front end for
// PackedConv `p`; `columns` is scratch.
void weight_grad(const Conv2dShape& s, const PackedConv& p, const float* packed, const float* dy,
                 float* columns, float* dw);

}  // namespace odyssey::conv_gemm
