// conv2d forward, input gradient and weight gradient: shape checks, then the batch kernels.
// Weights are (out_channels, in_channels / groups, kh, kw), as in PyTorch.
#include "odyssey/conv.h"

#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "overlap.h"
#include "window.h"

namespace odyssey::bindings {
namespace {

constexpr const char* kInputLayout = "(batch, channels, height, width)";
constexpr const char* kWeightLayout = "(out_channels, in_channels / groups, kernel_h, kernel_w)";

std::string pair_text(const Pair& pair) {
  return "(" + std::to_string(pair.h) + ", " + std::to_string(pair.w) + ")";
}

// The stride, padding, dilation and groups of a convolution.
struct ConvOptions {
  Pair stride, padding, dilation;
  py::ssize_t groups;
};

ConvOptions conv_options(const char* fn, const py::object& stride, const py::object& padding,
                         const py::object& dilation, py::ssize_t groups) {
  ConvOptions options{pair_arg(fn, stride, "stride"), pair_arg(fn, padding, "padding"),
                      pair_arg(fn, dilation, "dilation"), groups};
  check_stride(fn, options.stride);
  if (options.padding.h < 0 || options.padding.w < 0) {
    throw py::value_error(std::string(fn) + ": padding must be >= 0, got " +
                          pair_text(options.padding));
  }
  if (options.dilation.h < 1 || options.dilation.w < 1) {
    throw py::value_error(std::string(fn) + ": dilation must be >= 1, got " +
                          pair_text(options.dilation));
  }
  if (groups < 1 || groups >= (py::ssize_t{1} << 31)) {
    throw py::value_error(std::string(fn) + ": groups must be >= 1 and below 2**31, got " +
                          std::to_string(groups));
  }
  return options;
}

// The checked geometry of a convolution of input `x` (N, C, H, W) by a kernel
// (OC, C / groups, KH, KW); messages name both shapes.
Conv2dShape conv_shape(const char* fn, const Dims4& x, const Dims4& w, const ConvOptions& o) {
  // Built only on failure: this check runs on every convolution call.
  const auto shapes = [&] { return " (input " + dims_text(x) + ", weight " + dims_text(w) + ")"; };
  if (x[1] % o.groups != 0 || x[1] / o.groups != w[1]) {
    const std::string expected =
        o.groups == 1 ? std::to_string(w[1])
                      : std::to_string(w[1]) + " per group x " + std::to_string(o.groups);
    throw py::value_error(std::string(fn) + ": input has " + std::to_string(x[1]) +
                          " channels but weight expects " + expected + shapes());
  }
  if (w[0] % o.groups != 0) {
    throw py::value_error(
        std::string(fn) + ": weight's " + std::to_string(w[0]) +
        " output channels are not divisible by groups=" + std::to_string(o.groups) + shapes());
  }
  if (w[2] < 1 || w[3] < 1) {
    throw py::value_error(std::string(fn) + ": kernel size must be >= 1" + shapes());
  }
  const py::ssize_t padded_h = x[2] + 2 * o.padding.h, padded_w = x[3] + 2 * o.padding.w;
  // The dilated kernel's extent, dilation * (kernel - 1) + 1, compared without overflowing.
  const auto fits = [](py::ssize_t kernel, py::ssize_t dilation, py::ssize_t padded) {
    return padded >= 1 && kernel - 1 <= (padded - 1) / dilation;
  };
  if (!fits(w[2], o.dilation.h, padded_h) || !fits(w[3], o.dilation.w, padded_w)) {
    const std::string dilated =
        o.dilation.h == 1 && o.dilation.w == 1 ? "" : " with dilation " + pair_text(o.dilation);
    throw py::value_error(std::string(fn) + ": kernel (" + std::to_string(w[2]) + ", " +
                          std::to_string(w[3]) + ")" + dilated +
                          " is larger than the padded input (" + std::to_string(padded_h) + ", " +
                          std::to_string(padded_w) + ")" + shapes());
  }
  const auto u = [](py::ssize_t v) { return static_cast<std::size_t>(v); };
  return Conv2dShape{u(x[0]),         u(x[1]),        u(x[2]),        u(x[3]),
                     u(w[0]),         u(w[2]),        u(w[3]),        u(o.stride.h),
                     u(o.stride.w),   u(o.padding.h), u(o.padding.w), u(o.dilation.h),
                     u(o.dilation.w), u(o.groups)};
}

Dims4 output_dims(const Conv2dShape& s) {
  const auto i = [](std::size_t v) { return static_cast<py::ssize_t>(v); };
  return {i(s.batch), i(s.out_channels), i(s.out_h()), i(s.out_w())};
}

py::array conv2d_forward(const py::object& x_object, const py::object& w_object,
                         const py::object& bias_object, const py::object& stride_object,
                         const py::object& padding_object, const py::object& dilation_object,
                         py::ssize_t groups, const py::object& out_object) {
  constexpr const char* fn = "conv2d_forward";
  const py::array x = float32_array(fn, x_object, "x");
  const py::array w = float32_array(fn, w_object, "weight");
  check_ndim(fn, x, "x", 4, kInputLayout);
  check_ndim(fn, w, "weight", 4, kWeightLayout);
  const ConvOptions options =
      conv_options(fn, stride_object, padding_object, dilation_object, groups);
  const Conv2dShape s = conv_shape(fn, dims_of(x), dims_of(w), options);
  const float* bias_data = nullptr;
  py::array bias;
  if (!bias_object.is_none()) {
    bias = float32_array(fn, bias_object, "bias");
    if (bias.ndim() != 1 || static_cast<std::size_t>(bias.shape(0)) != s.out_channels) {
      throw py::value_error(std::string(fn) + ": bias must have shape (" +
                            std::to_string(s.out_channels) + ",) for weight " + shape_of(w) +
                            ", got " + shape_of(bias));
    }
    bias_data = floats(bias);
  }
  const Dims4 y_dims = output_dims(s);
  py::array y;
  if (out_object.is_none()) {
    y = new_array<float>(std::vector<py::ssize_t>(y_dims.begin(), y_dims.end()));
  } else {
    y = float32_array(fn, out_object, "out");
    check_writeable(fn, y, "out");
    if (y.ndim() != 4 || dims_of(y) != y_dims) {
      throw py::value_error(std::string(fn) + ": out has shape " + shape_of(y) +
                            " but the output has shape " + dims_text(y_dims));
    }
    check_disjoint(fn, y, "out", x, "x");
    check_disjoint(fn, y, "out", w, "weight");
    if (bias_data != nullptr) check_disjoint(fn, y, "out", bias, "bias");
  }
  float* y_data = mutable_floats(y);
  {
    py::gil_scoped_release release;
    odyssey::conv2d_forward(s, floats(x), floats(w), bias_data, y_data);
  }
  return y;
}

py::array conv2d_backward_data(const py::object& grad_out_object, const py::object& w_object,
                               const py::object& input_shape_object,
                               const py::object& stride_object, const py::object& padding_object,
                               const py::object& dilation_object, py::ssize_t groups) {
  constexpr const char* fn = "conv2d_backward_data";
  const py::array grad_out = float32_array(fn, grad_out_object, "grad_out");
  const py::array w = float32_array(fn, w_object, "weight");
  check_ndim(fn, w, "weight", 4, kWeightLayout);
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const ConvOptions options =
      conv_options(fn, stride_object, padding_object, dilation_object, groups);
  const Conv2dShape s = conv_shape(fn, x_dims, dims_of(w), options);
  check_grad_out(fn, grad_out, output_dims(s));
  py::array_t<float> dx = new_array<float>(std::vector<py::ssize_t>(x_dims.begin(), x_dims.end()));
  float* dx_data = dx.mutable_data();
  {
    py::gil_scoped_release release;
    odyssey::conv2d_backward_data(s, floats(grad_out), floats(w), dx_data);
  }
  return dx;
}

py::tuple conv2d_backward_weight(const py::object& x_object, const py::object& grad_out_object,
                                 const py::object& kernel_size_object,
                                 const py::object& stride_object, const py::object& padding_object,
                                 const py::object& dilation_object, py::ssize_t groups,
                                 bool with_bias) {
  constexpr const char* fn = "conv2d_backward_weight";
  const py::array x = float32_array(fn, x_object, "x");
  const py::array grad_out = float32_array(fn, grad_out_object, "grad_out");
  check_ndim(fn, x, "x", 4, kInputLayout);
  check_ndim(fn, grad_out, "grad_out", 4, kInputLayout);
  const Pair kernel = pair_arg(fn, kernel_size_object, "kernel_size");
  const ConvOptions options =
      conv_options(fn, stride_object, padding_object, dilation_object, groups);
  if (x.shape(1) % groups != 0) {
    throw py::value_error(std::string(fn) + ": x's " + std::to_string(x.shape(1)) +
                          " channels are not divisible by groups=" + std::to_string(groups));
  }
  const Dims4 w_dims{grad_out.shape(1), x.shape(1) / groups, kernel.h, kernel.w};
  const Conv2dShape s = conv_shape(fn, dims_of(x), w_dims, options);
  check_grad_out(fn, grad_out, output_dims(s));
  py::array_t<float> dw = new_array<float>(std::vector<py::ssize_t>(w_dims.begin(), w_dims.end()));
  float* dw_data = dw.mutable_data();
  float* db_data = nullptr;
  py::object db = py::none();
  if (with_bias) {
    py::array_t<float> db_array = new_array<float>({static_cast<py::ssize_t>(w_dims[0])});
    db_data = db_array.mutable_data();
    db = std::move(db_array);
  }
  {
    py::gil_scoped_release release;
    odyssey::conv2d_backward_weight(s, floats(x), floats(grad_out), dw_data, db_data);
  }
  return py::make_tuple(dw, db);
}

py::dict conv2d_algorithms(const py::object& input_shape_object,
                           const py::object& weight_shape_object, const py::object& stride_object,
                           const py::object& padding_object, const py::object& dilation_object,
                           py::ssize_t groups) {
  constexpr const char* fn = "conv2d_algorithms";
  const Dims4 x_dims = input_shape_arg(fn, input_shape_object);
  const Dims4 w_dims = input_shape_arg(fn, weight_shape_object, "weight_shape");
  const ConvOptions options =
      conv_options(fn, stride_object, padding_object, dilation_object, groups);
  const Conv2dShape s = conv_shape(fn, x_dims, w_dims, options);
  py::dict algorithms;
  algorithms["forward"] = conv_algorithm_name(conv2d_forward_algorithm(s));
  algorithms["backward_data"] = conv_algorithm_name(conv2d_backward_data_algorithm(s));
  algorithms["backward_weight"] = conv_algorithm_name(conv2d_backward_weight_algorithm(s));
  return algorithms;
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("weight"),
        py::arg("bias") = py::none(), py::arg("stride") = py::make_tuple(1, 1),
        py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
        py::arg("groups") = 1, py::arg("out") = py::none(),
        "2-D convolution of x (N, C, H, W) by weight (OC, C / groups, KH, KW) plus bias (OC,) -> "
        "(N, OC, OH, OW); stride, padding and dilation are (h, w) or one int.");
  m.def("conv2d_backward_data", &conv2d_backward_data, py::arg("grad_out"), py::arg("weight"),
        py::arg("input_shape"), py::arg("stride") = py::make_tuple(1, 1),
        py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
        py::arg("groups") = 1,
        "Gradient of conv2d with respect to its input, of shape input_shape (N, C, H, W).");
  m.def("conv2d_backward_weight", &conv2d_backward_weight, py::arg("x"), py::arg("grad_out"),
        py::arg("kernel_size"), py::arg("stride") = py::make_tuple(1, 1),
        py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
        py::arg("groups") = 1, py::arg("bias") = true,
        "Gradients of conv2d with respect to weight (OC, C / groups, KH, KW) and, when bias, bias "
        "(OC,); "
        "the same bits for every thread count.");
  m.def("conv2d_algorithms", &conv2d_algorithms, py::arg("input_shape"), py::arg("weight_shape"),
        py::kw_only(), py::arg("stride") = py::make_tuple(1, 1),
        py::arg("padding") = py::make_tuple(0, 0), py::arg("dilation") = py::make_tuple(1, 1),
        py::arg("groups") = 1,
        "The algorithm each conv2d pass picks for these shapes on the selected ISA.");
}

}  // namespace odyssey::bindings
