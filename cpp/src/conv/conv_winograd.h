// The Winograd F(4x4, 3x3) convolution: stride-1 3x3 correlations computed on 6x6 input tiles, with
// samples in the vector lanes (conv_winograd_tiles.h) and the sums over channels as sgemm calls.
// It takes 36 multiplies per 16 outputs and input channel where the direct kernels take 144, and
// rounds differently from them: its error grows with the transforms' coefficients (up to 8 in the
// output transform), measured below 1e-5 of the sum of the products' magnitudes (the tests allow
// 1e-4) where the direct sums stay near 1e-7.
#pragma once

#include <cstddef>

#include "odyssey/conv.h"

namespace odyssey::conv_winograd {

// Whether the selected ISA runs a stride-1 3x3 correlation of `channels` planes of h x w, padded
// by pad_h and pad_w, into `out_channels` planes with Winograd: a vector ISA, padding below 3, an
// output of whole 4x4 tiles, and a group of samples whose transposed input and output (gradient)
// take 16 MB or less, the per-thread buffers (VGG's 224x224 layers do not fit).
bool fits(std::size_t channels, std::size_t h, std::size_t w, std::size_t out_channels,
          std::size_t pad_h, std::size_t pad_w);

// y (batch, out_channels, h + 2 pad_h - 2, w + 2 pad_w - 2) = the correlation of x (batch,
// channels, h, w), zero-padded by pad_h and pad_w, with w33 (out_channels, channels, 3, 3), plus
// bias unless it is nullptr. Parallel over groups of samples; the sgemm calls inside run serially,
// so the bits do not depend on the thread count.
void correlate(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
               std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
               const float* w33, const float* bias, float* y);

// dw (out_channels, channels, 3, 3) = the gradient of that correlation's weights for output
// gradient dy, and db (out_channels,) unless nullptr: the 36 products of transformed input and
// lifted output-gradient tiles summed over tiles and samples by sgemm, one partial per group of
// samples added in group order, then transformed back to 3x3.
void weight_grad(std::size_t batch, std::size_t channels, std::size_t h, std::size_t w,
                 std::size_t out_channels, std::size_t pad_h, std::size_t pad_w, const float* x,
                 const float* dy, float* dw, float* db);

}  // namespace odyssey::conv_winograd
