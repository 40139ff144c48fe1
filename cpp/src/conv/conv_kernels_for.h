// One ISA's ConvKernels table: the direct kernels of conv_columns.h, conv_channels.h and
// conv_batch.h instantiated for `Conv`, that ISA's lane type with its tuning constants
// (struct Conv : Vec { ... } in conv_<isa>.cc).
#pragma once

#include "conv_batch.h"
#include "conv_channels.h"
#include "conv_columns.h"
#include "conv_winograd_tiles.h"
#include "odyssey/conv.h"

namespace odyssey::conv_direct {

template <class Conv>
constexpr ConvKernels kernels_for() {
  return ConvKernels{.lanes = Conv::kLanes,
                     .forward = forward<Conv>,
                     .forward_lanes = forward_lanes<Conv>,
                     .weight_grad = weight_grad<Conv>,
                     .weight_grad_lanes = weight_grad_lanes<Conv>,
                     .transpose_channels = transpose_channels<Conv>,
                     .transpose_batch = transpose_batch<Conv>,
                     .convolve_batch = convolve_batch<Conv>,
                     .weight_grad_batch = weight_grad_batch<Conv>,
                     .batch_grad_channels = Conv::kBatchGradChannels,
                     .winograd_weights = winograd_weights<Conv>,
                     .winograd_input = winograd_input<Conv>,
                     .winograd_output = winograd_output<Conv>,
                     .winograd_lift = winograd_lift<Conv>,
                     .winograd_weights_back = winograd_weights_back<Conv>};
}

}  // namespace odyssey::conv_direct
