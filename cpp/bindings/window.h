// Arguments shared by the convolution and pooling bindings: (h, w) pairs for kernel sizes, strides
// and padding, and (N, C, H, W) shapes.
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
Pair pair_arg(const char* fn, const py::object& object, const char* name);
// A sequence of four ints >= 0 and below 2**31.
Dims4 input_shape_arg(const char* fn, const py::object& object, const char* name = "input_shape");

void check_stride(const char* fn, const Pair& stride);
// 0 <= padding <= kernel / 2 on each axis, PyTorch's limit.
void check_padding(const char* fn, const Pair& padding, const Pair& kernel);

// The dimensions of an array already checked to be 4-D.
inline Dims4 dims_of(const py::array& array) {
  return {array.shape(0), array.shape(1), array.shape(2), array.shape(3)};
}

std::string dims_text(const Dims4& dims);

// ValueError unless the 4-D grad_out has the shape of the forward pass's output.
void check_grad_out(const char* fn, const py::array& grad_out, const Dims4& output);

}  // namespace odyssey::bindings
