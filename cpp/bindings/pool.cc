// max_pool2d and avg_pool2d forward and backward: shape checks, then the plane kernels.
#include "odyssey/pool.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "window.h"

namespace odyssey::bindings {
namespace {

// The checked geometry of pooling an (N, C, H, W) input.
Pool2dShape pool_shape(const char* fn, const Dims4& x, const py::object& kernel_object,
                       const py::object& stride_object, const py::object& padding_object,
                       const py::object& dilation_object, bool ceil_mode) {
  const Pair kernel = pair_arg(fn, kernel_object, "kernel_size");
  const Pair stride = pair_arg(fn, stride_object, "stride");
  const Pair padding = pair_arg(fn, padding_object, "padding");
  const Pair dilation = pair_arg(fn, dilation_object, "dilation");
  if (kernel.h < 1 || kernel.w < 1) {
    throw py::value_error(std::string(fn) + ": kernel_size must be >= 1, got (" +
                          std::to_string(kernel.h) + ", " + std::to_string(kernel.w) + ")");
  }
  check_stride(fn, stride);
  if (dilation.h < 1 || dilation.w < 1) {
    throw py::value_error(std::string(fn) + ": dilation must be >= 1, got (" +
                          std::to_string(dilation.h) + ", " + std::to_string(dilation.w) + ")");
  }
  check_padding(fn, padding, kernel);
  if (x[2] * x[3] >= (py::ssize_t{1} << 31)) {
    throw py::value_error(std::string(fn) + ": input planes of " + dims_text(x) +
                          " are too large for int32 indices");
  }
  const auto u = [](py::ssize_t v) { return static_cast<std::size_t>(v); };
  const Pool2dShape s{.planes = u(x[0] * x[1]),
                      .in_h = u(x[2]),
                      .in_w = u(x[3]),
                      .kernel_h = u(kernel.h),
                      .kernel_w = u(kernel.w),
                      .stride_h = u(stride.h),
                      .stride_w = u(stride.w),
                      .pad_h = u(padding.h),
                      .pad_w = u(padding.w),
                      .dilation_h = u(dilation.h),
                      .dilation_w = u(dilation.w),
                      .ceil_mode = ceil_mode};
  if (s.out_h() == 0 || s.out_w() == 0) {
    throw py::value_error(std::string(fn) + ": window (" + std::to_string(kernel.h) + ", " +
                          std::to_string(kernel.w) + ") is larger than the input " + dims_text(x) +
                          " with padding (" + std::to_string(padding.h) + ", " +
                          std::to_string(padding.w) + ") and dilation (" +
                          std::to_string(dilation.h) + ", " + std::to_string(dilation.w) + ")");
  }
  return s;
}

// The divisor arguments of an average.
AvgDivisor avg_divisor(const char* fn, bool count_include_pad,
                       const std::optional<std::int64_t>& divisor_override) {
  if (divisor_override && *divisor_override == 0) {
    throw py::value_error(std::string(fn) + ": divisor_override must not be 0");
  }
  return {count_include_pad, divisor_override.value_or(0)};
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

py::array_t<float> new_planes(const Dims4& dims) {
  return new_array<float>(std::vector<py::ssize_t>(dims.begin(), dims.end()));
}

// Scattering by argmax needs every index inside its plane (or -1, a fused relu's dead output).
// One branch-free pass that the compiler vectorises (an early exit per element would not be),
// then the message.
void check_argmax(const char* fn, const py::array& argmax, const Dims4& x_dims) {
  const auto* index = static_cast<const std::int32_t*>(argmax.data());
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

py::tuple max_pool2d_forward(const py::object& x_object, const py::object& kernel_object,
                             const py::object& stride_object, const py::object& padding_object,
                             const py::object& dilation_object, bool ceil_mode, bool relu) {
  constexpr const char* fn = "max_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const Pool2dShape s = pool_shape(fn, dims_of(x), kernel_object, stride_object, padding_object,
                                   dilation_object, ceil_mode);
  const Dims4 y_dims = output_dims(dims_of(x), s);
  py::array_t<float> y = new_planes(y_dims);
  py::array_t<std::int32_t> argmax =
      new_array<std::int32_t>(std::vector<py::ssize_t>(y_dims.begin(), y_dims.end()));
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
                              const py::object& stride_object, const py::object& padding_object,
                              const py::object& dilation_object, bool ceil_mode) {
  constexpr const char* fn = "max_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const py::array argmax = array_of<std::int32_t>(fn, argmax_object, "argmax");
  check_same_shape(fn, argmax, "argmax", grad_out, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const Pool2dShape s = pool_shape(fn, x_dims, kernel_object, stride_object, padding_object,
                                   dilation_object, ceil_mode);
  check_grad_out(fn, grad_out, output_dims(x_dims, s));
  const auto* index = static_cast<const std::int32_t*>(argmax.data());
  // Overlapping windows scatter by argmax; disjoint ones only compare it with their taps.
  if (!windows_disjoint(s)) check_argmax(fn, argmax, x_dims);
  py::array_t<float> dx = new_planes(x_dims);
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::max_pool2d_backward(s, floats(grad_out), index, dx_data);
  }
  return dx;
}

py::array avg_pool2d_forward(const py::object& x_object, const py::object& kernel_object,
                             const py::object& stride_object, const py::object& padding_object,
                             bool ceil_mode, bool count_include_pad,
                             const std::optional<std::int64_t>& divisor_override) {
  constexpr const char* fn = "avg_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const Pool2dShape s = pool_shape(fn, dims_of(x), kernel_object, stride_object, padding_object,
                                   py::int_(1), ceil_mode);
  const AvgDivisor divisor = avg_divisor(fn, count_include_pad, divisor_override);
  py::array_t<float> y = new_planes(output_dims(dims_of(x), s));
  float* y_data = y.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::avg_pool2d_forward(s, floats(x), y_data, divisor);
  }
  return y;
}

py::array avg_pool2d_backward(const py::object& grad_out_object,
                              const py::object& input_shape_object, const py::object& kernel_object,
                              const py::object& stride_object, const py::object& padding_object,
                              bool ceil_mode, bool count_include_pad,
                              const std::optional<std::int64_t>& divisor_override) {
  constexpr const char* fn = "avg_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const Pool2dShape s =
      pool_shape(fn, x_dims, kernel_object, stride_object, padding_object, py::int_(1), ceil_mode);
  const AvgDivisor divisor = avg_divisor(fn, count_include_pad, divisor_override);
  check_grad_out(fn, grad_out, output_dims(x_dims, s));
  py::array_t<float> dx = new_planes(x_dims);
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::avg_pool2d_backward(s, floats(grad_out), dx_data, divisor);
  }
  return dx;
}

// The checked geometry of adaptive pooling of an (N, C, H, W) input to output_size.
AdaptivePool2dShape adaptive_shape(const char* fn, const Dims4& x,
                                   const py::object& output_size_object) {
  const Pair out = pair_arg(fn, output_size_object, "output_size");
  if (out.h < 1 || out.w < 1) {
    throw py::value_error(std::string(fn) + ": output_size must be >= 1, got (" +
                          std::to_string(out.h) + ", " + std::to_string(out.w) + ")");
  }
  if (x[2] < 1 || x[3] < 1) {
    throw py::value_error(std::string(fn) + ": input " + dims_text(x) +
                          " has empty planes: nothing to pool");
  }
  if (x[2] * x[3] >= (py::ssize_t{1} << 31)) {
    throw py::value_error(std::string(fn) + ": input planes of " + dims_text(x) +
                          " are too large for int32 indices");
  }
  const auto u = [](py::ssize_t v) { return static_cast<std::size_t>(v); };
  return {.planes = u(x[0] * x[1]),
          .in_h = u(x[2]),
          .in_w = u(x[3]),
          .out_h = u(out.h),
          .out_w = u(out.w)};
}

Dims4 adaptive_output_dims(const Dims4& x, const AdaptivePool2dShape& s) {
  return {x[0], x[1], static_cast<py::ssize_t>(s.out_h), static_cast<py::ssize_t>(s.out_w)};
}

// The input dims of a backward pass and the geometry from grad_out's planes.
AdaptivePool2dShape adaptive_backward_shape(const char* fn, const py::array& grad_out,
                                            const Dims4& x_dims) {
  const Dims4 g = dims_of(grad_out);
  const AdaptivePool2dShape s = adaptive_shape(fn, x_dims, py::make_tuple(g[2], g[3]));
  check_grad_out(fn, grad_out, adaptive_output_dims(x_dims, s));
  return s;
}

py::array adaptive_avg_pool2d_forward(const py::object& x_object,
                                      const py::object& output_size_object) {
  constexpr const char* fn = "adaptive_avg_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const AdaptivePool2dShape s = adaptive_shape(fn, dims_of(x), output_size_object);
  py::array_t<float> y = new_planes(adaptive_output_dims(dims_of(x), s));
  float* y_data = y.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::adaptive_avg_pool2d_forward(s, floats(x), y_data);
  }
  return y;
}

py::array adaptive_avg_pool2d_backward(const py::object& grad_out_object,
                                       const py::object& input_shape_object) {
  constexpr const char* fn = "adaptive_avg_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const AdaptivePool2dShape s = adaptive_backward_shape(fn, grad_out, x_dims);
  py::array_t<float> dx = new_planes(x_dims);
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::adaptive_avg_pool2d_backward(s, floats(grad_out), dx_data);
  }
  return dx;
}

py::tuple adaptive_max_pool2d_forward(const py::object& x_object,
                                      const py::object& output_size_object) {
  constexpr const char* fn = "adaptive_max_pool2d_forward";
  const py::array x = input_4d(fn, x_object, "x");
  const AdaptivePool2dShape s = adaptive_shape(fn, dims_of(x), output_size_object);
  const Dims4 y_dims = adaptive_output_dims(dims_of(x), s);
  py::array_t<float> y = new_planes(y_dims);
  py::array_t<std::int32_t> argmax =
      new_array<std::int32_t>(std::vector<py::ssize_t>(y_dims.begin(), y_dims.end()));
  float* y_data = y.mutable_data();
  std::int32_t* argmax_data = argmax.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::adaptive_max_pool2d_forward(s, floats(x), y_data, argmax_data);
  }
  return py::make_tuple(y, argmax);
}

py::array adaptive_max_pool2d_backward(const py::object& grad_out_object,
                                       const py::object& argmax_object,
                                       const py::object& input_shape_object) {
  constexpr const char* fn = "adaptive_max_pool2d_backward";
  const py::array grad_out = input_4d(fn, grad_out_object, "grad_out");
  const py::array argmax = array_of<std::int32_t>(fn, argmax_object, "argmax");
  check_same_shape(fn, argmax, "argmax", grad_out, "grad_out");
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const AdaptivePool2dShape s = adaptive_backward_shape(fn, grad_out, x_dims);
  check_argmax(fn, argmax, x_dims);
  py::array_t<float> dx = new_planes(x_dims);
  float* dx_data = dx.mutable_data();
  const auto* index = static_cast<const std::int32_t*>(argmax.data());
  {
    py::gil_scoped_release release;
    odyssey::max_pool_scatter(s.planes, s.in_h * s.in_w, s.out_h * s.out_w, floats(grad_out), index,
                              dx_data);
  }
  return dx;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("ceil_mode") = false, py::arg("relu") = false,
        "Max pooling of x (N, C, H, W) with PyTorch's geometry -> (y, argmax): argmax is the int32 "
        "index of each maximum in its input plane (first of ties; NaN wins). relu=True gives "
        "max_pool2d(relu(x)) in one pass, with argmax -1 where no gradient flows.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_out"), py::arg("argmax"),
        py::arg("input_shape"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = 0,
        py::arg("dilation") = 1, py::arg("ceil_mode") = false,
        "Gradient of max pooling: grad_out routed to argmax (-1: nowhere).");
  m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        "Average pooling of x (N, C, H, W) with PyTorch's geometry and divisors.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_out"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding") = 0,
        py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = py::none(), "Gradient of average pooling.");
  m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward, py::arg("x"),
        py::arg("output_size"), "Adaptive average pooling of x (N, C, H, W) to output_size.");
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("grad_out"),
        py::arg("input_shape"), "Gradient of adaptive average pooling.");
  m.def("adaptive_max_pool2d_forward", &adaptive_max_pool2d_forward, py::arg("x"),
        py::arg("output_size"),
        "Adaptive max pooling of x (N, C, H, W) to output_size -> (y, argmax), as max_pool2d.");
  m.def("adaptive_max_pool2d_backward", &adaptive_max_pool2d_backward, py::arg("grad_out"),
        py::arg("argmax"), py::arg("input_shape"),
        "Gradient of adaptive max pooling: grad_out added at argmax.");
}

}  // namespace odyssey::bindings
