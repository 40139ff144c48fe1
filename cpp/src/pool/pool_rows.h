// The plane-level 2x2 stride-2 kernels of PoolKernels, written once over each ISA's row kernels:
// the row loop lives inside the ISA's translation unit, so the row kernel is inlined and its
// constants and tail masks are set up once per plane instead of once per row (LeNet's planes
// have rows of 5 and 14 outputs, where that setup rivals the work).
#pragma once

#include <cstddef>
#include <cstdint>

namespace odyssey::pool_rows {

// Row(top, in_w, out_w, top_index, relu, y, argmax) pools one output row.
template <auto Row>
void max_2x2_rows(const float* top, std::size_t in_w, std::size_t out_w, std::size_t rows,
                  std::int32_t top_index, bool relu, float* y, std::int32_t* argmax) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t skip = 2 * r * in_w;
    Row(top + skip, in_w, out_w, top_index + static_cast<std::int32_t>(skip), relu, y + r * out_w,
        argmax + r * out_w);
  }
}

// Row(dy, argmax, out_w, top_index, in_w, top) writes one row's gradient into two input rows.
template <auto Row>
void max_2x2_backward_rows(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                           std::size_t rows, std::int32_t top_index, std::size_t in_w, float* top) {
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t skip = 2 * r * in_w;
    Row(dy + r * out_w, argmax + r * out_w, out_w, top_index + static_cast<std::int32_t>(skip),
        in_w, top + skip);
  }
}

}  // namespace odyssey::pool_rows
