// Arguments shared by the convolution and pooling bindings: (h, w) pairs for kernel sizes, strides
// and padding, an (N, C, H, W) shape, and the overlap check for a written array.
#pragma once

#include <array>
#include <string>

#include "arrays.h"

namespace odyssey::bindings {

struct Pair {
  py::ssize_t h, w;
};

using Dims4 = std::array<py::ssize_t, 4>;

// An int n (meaning (n, n)) or a sequence of two ints, each below 2**31 in magnitude.
Pair pair_arg(const std::string& fn, const py::object& object, const char* name);
// A sequence of four ints >= 0 and below 2**31.
Dims4 input_shape_arg(const std::string& fn, const py::object& object);

void check_stride(const std::string& fn, const Pair& stride);
// 0 <= padding <= kernel / 2 on each axis, PyTorch's limit.
void check_padding(const std::string& fn, const Pair& padding, const Pair& kernel);

// A written array must not share memory with an array the kernel reads.
void check_no_overlap(const std::string& fn, const py::array& out, const py::array& input,
                      const char* name);

std::string dims_text(const Dims4& dims);

}  // namespace odyssey::bindings
