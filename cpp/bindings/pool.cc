// max_pool2d and avg_pool2d forward and backward: shape checks, then the plane kernels.
#include "odyssey/pool.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "window.h"

namespace odyssey::bindings {
namespace {

// The checked geometry of pooling an (N, C, H, W) input.
Pool2dShape pool_shape(const char* fn, const Dims4& x, const Pair& kernel, const Pair& stride) {
  if (kernel.h < 1 || kernel.w < 1) {
    throw py::value_error(std::string(fn) + ": kernel_size must be >= 1, got (" +
                          std::to_string(kernel.h) + ", " + std::to_string(kernel.w) + ")");
  }
  check_stride(fn, stride);
  if (kernel.h > x[2] || kernel.w > x[3]) {
    throw py::value_error(std::string(fn) + ": window (" + std::to_string(kernel.h) + ", " +
                          std::to_string(kernel.w) + ") is larger than the input " + dims_text(x));
  }
  if (x[2] * x[3] >= (py::ssize_t{1} << 31)) {
    throw py::value_error(std::string(fn) + ": input planes of " + dims_text(x) +
                          " are too large for int32 indices");
  }
  const auto u = [](py::ssize_t v) { return static_cast<std::size_t>(v); };
  return Pool2dShape{u(x[0] * x[1]), u(x[2]),     u(x[3]),    u(kernel.h),
                     u(kernel.w),    u(stride.h), u(stride.w)};
}

Dims4 output_dims(const Dims4& x, const Pool2dShape& s) {
  return {x[0], x[1], static_cast<py::ssize_t>(s.out_h()), static_cast<py::ssize_t>(s.out_w())};
}

// A float32 (N, C, H, W) array.
py::array input_4d(const char* fn, const py::object& object, const char* name) {
  py::array array = float32_array(fn, object, name);
  check_ndim(fn, array, name, 4, "(batch, channels, height, width)");
  return array;
}

py::array_t<float> new_array(const Dims4& dims) {
  return py::array_t<float>(std::vector<py::ssize_t>(dims.begin(), dims.end()));
}

py::tuple max_pool2d_forward(const py::object& x_object, const py::object& kernel_object,
                             const py::object& stride_object, bool relu) {
  constexpr const char* fn = "max_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const Pool2dShape s = pool_shape(fn, dims_of(x), pair_arg(fn, kernel_object, "kernel_size"),
                                   pair_arg(fn, stride_object, "stride"));
  const Dims4 y_dims = output_dims(dims_of(x), s);
  py::array_t<float> y = new_array(y_dims);
  py::array_t<std::int32_t> argmax(std::vector<py::ssize_t>(y_dims.begin(), y_dims.end()));
  float* y_data = y.mutable_data();
  std::int32_t* argmax_data = argmax.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::max_pool2d_forward(s, floats(x), y_data, argmax_data, relu);
  }
  return py::make_tuple(y, argmax);
}

py::array max_pool2d_backward(const py::object& grad_out_object, const py::object& argmax_object,
                              const py::object& input_shape_object, const py::object& kernel_object,
                              const py::object& stride_object) {
  constexpr const char* fn = "max_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const py::array argmax = array_of<std::int32_t>(fn, argmax_object, "argmax");
  check_same_shape(fn, argmax, "argmax", grad_out, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const Pool2dShape s = pool_shape(fn, x_dims, pair_arg(fn, kernel_object, "kernel_size"),
                                   pair_arg(fn, stride_object, "stride"));
  check_grad_out(fn, grad_out, output_dims(x_dims, s));
  const auto* index = static_cast<const std::int32_t*>(argmax.data());
  if (!windows_disjoint(s)) {
    // Overlapping windows scatter by argmax, so every index must lie in its plane (or be -1, a
    // fused relu's dead output). One branch-free pass that the compiler vectorises (an early exit
    // per element would not be), then the message; disjoint windows need no check, as they only
    // compare argmax with each position of its window.
    const py::ssize_t plane = x_dims[2] * x_dims[3];
    std::int32_t lowest = -1, highest = 0;
    for (py::ssize_t i = 0; i < argmax.size(); ++i) {
      lowest = std::min(lowest, index[i]);
      highest = std::max(highest, index[i]);
    }
    if (argmax.size() != 0 && (lowest < -1 || highest >= plane)) {
      throw py::value_error(std::string(fn) + ": argmax holds " +
                            std::to_string(lowest < -1 ? lowest : highest) +
                            ", out of range for input planes of " + std::to_string(x_dims[2]) +
                            " x " + std::to_string(x_dims[3]) + " (-1 means no gradient)");
    }
  }
  py::array_t<float> dx = new_array(x_dims);
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::max_pool2d_backward(s, floats(grad_out), index, dx_data);
  }
  return std::move(dx);
}

py::array avg_pool2d_forward(const py::object& x_object, const py::object& kernel_object,
                             const py::object& stride_object) {
  constexpr const char* fn = "avg_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const Pool2dShape s = pool_shape(fn, dims_of(x), pair_arg(fn, kernel_object, "kernel_size"),
                                   pair_arg(fn, stride_object, "stride"));
  py::array_t<float> y = new_array(output_dims(dims_of(x), s));
  float* y_data = y.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::avg_pool2d_forward(s, floats(x), y_data);
  }
  return std::move(y);
}

py::array avg_pool2d_backward(const py::object& grad_out_object,
                              const py::object& input_shape_object, const py::object& kernel_object,
                              const py::object& stride_object) {
  constexpr const char* fn = "avg_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const Pool2dShape s = pool_shape(fn, x_dims, pair_arg(fn, kernel_object, "kernel_size"),
                                   pair_arg(fn, stride_object, "stride"));
  check_grad_out(fn, grad_out, output_dims(x_dims, s));
  py::array_t<float> dx = new_array(x_dims);
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::avg_pool2d_backward(s, floats(grad_out), dx_data);
  }
  return std::move(dx);
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::kw_only(), py::arg("relu") = false,
        "Max pooling of x (N, C, H, W), no padding, floor mode -> (y, argmax): argmax is the int32 "
        "index of each maximum in its input plane (first of ties; NaN wins). relu=True gives "
        "max_pool2d(relu(x)) in one pass, with argmax -1 where no gradient flows.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_out"), py::arg("argmax"),
        py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"),
        "Gradient of max pooling: grad_out routed to argmax (-1: nowhere).");
  m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), "Average pooling of x (N, C, H, W), no padding, floor mode.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_out"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride"), "Gradient of average pooling.");
}

}  // namespace odyssey::bindings
