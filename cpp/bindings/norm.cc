// batch_norm forward and backward: array checks, then the norm kernels with the GIL released.
#include "odyssey/norm.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "overlap.h"

namespace odyssey::bindings {
namespace {

constexpr const char* kInputLayout = "(batch, channels, ...)";

// x's (batch, channels, spatial), spatial the product of the dims after the channels; ValueError
// unless x has 2 or more dims.
BatchNormShape shape_for(const char* fn, const py::array& x) {
  if (x.ndim() < 2) {
    throw py::value_error(std::string(fn) + ": x must have 2 or more dims " + kInputLayout +
                          ", got shape " + shape_of(x));
  }
  std::size_t spatial = 1;
  for (py::ssize_t d = 2; d < x.ndim(); ++d) spatial *= static_cast<std::size_t>(x.shape(d));
  return {static_cast<std::size_t>(x.shape(0)), static_cast<std::size_t>(x.shape(1)), spatial};
}

using Optional = std::optional<py::array>;

// A float32 (channels,) array matching x, or nothing for None when `optional`.
Optional per_channel(const char* fn, const py::object& object, const char* name, const py::array& x,
                     bool optional) {
  if (object.is_none()) {
    if (optional) return std::nullopt;
    throw py::value_error(std::string(fn) + ": " + name + " is required here, got None");
  }
  py::array array = float32_array(fn, object, name);
  if (array.ndim() != 1 || array.shape(0) != x.shape(1)) {
    throw py::value_error(std::string(fn) + ": " + name + " must have shape (" +
                          std::to_string(x.shape(1)) + ",), one value per channel of x " +
                          shape_of(x) + ", got " + shape_of(array));
  }
  return array;
}

const float* data_or_null(const Optional& array) { return array ? floats(*array) : nullptr; }

py::tuple batch_norm_forward(const py::object& x_object, const py::object& weight_object,
                             const py::object& bias_object, const py::object& running_mean_object,
                             const py::object& running_var_object, bool training, double momentum,
                             double eps, const py::object& out_object) {
  constexpr const char* fn = "batch_norm_forward";
  const py::array x = float32_array(fn, x_object, "x");
  const BatchNormShape s = shape_for(fn, x);
  const Optional weight = per_channel(fn, weight_object, "weight", x, true);
  const Optional bias = per_channel(fn, bias_object, "bias", x, true);
  Optional running_mean = per_channel(fn, running_mean_object, "running_mean", x, training);
  Optional running_var = per_channel(fn, running_var_object, "running_var", x, training);
  if (training && s.batch * s.spatial < 2) {
    throw py::value_error(std::string(fn) +
                          ": training needs more than 1 value per channel, got x " + shape_of(x));
  }
  py::array y = output_for(fn, out_object, x, {{&x, "x"}});
  // y is written while the parameters are read; in training the running statistics are written
  // (read only in evaluation) while x, the parameters and y are in use.
  for (const auto& [param, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (*param) check_disjoint(fn, y, "out", **param, name);
  }
  float* running[2] = {nullptr, nullptr};
  const std::pair<Optional*, const char*> stats[2] = {{&running_mean, "running_mean"},
                                                      {&running_var, "running_var"}};
  for (std::size_t i = 0; i < 2 && training; ++i) {
    const auto& [stat, name] = stats[i];
    if (!*stat) continue;
    check_writeable(fn, **stat, name);
    check_disjoint(fn, **stat, name, x, "x");
    check_disjoint(fn, **stat, name, y, "out");
    for (const auto& [param, param_name] :
         {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
      if (*param) check_disjoint(fn, **stat, name, **param, param_name);
    }
    running[i] = mutable_floats(**stat);
  }
  if (running[0] != nullptr && running[1] != nullptr) {
    check_disjoint(fn, *running_var, "running_var", *running_mean, "running_mean");
  }
  const auto channels = static_cast<py::ssize_t>(s.channels);
  py::array mean = new_array<float>({channels}), invstd = new_array<float>({channels});
  float* y_data = mutable_floats(y);
  float* mean_data = mutable_floats(mean);
  float* invstd_data = mutable_floats(invstd);
  const float* w_data = data_or_null(weight);
  const float* b_data = data_or_null(bias);
  {
    py::gil_scoped_release release;
    if (training) {
      odyssey::batch_norm_forward_training(floats(x), w_data, b_data, running[0], running[1],
                                           momentum, eps, y_data, mean_data, invstd_data, s);
    } else {  // the running statistics, read only
      odyssey::batch_norm_forward_eval(floats(x), w_data, b_data, data_or_null(running_mean),
                                       data_or_null(running_var), eps, y_data, mean_data,
                                       invstd_data, s);
    }
  }
  return py::make_tuple(y, mean, invstd);
}

py::tuple batch_norm_backward(const py::object& grad_object, const py::object& x_object,
                              const py::object& weight_object, const py::object& mean_object,
                              const py::object& invstd_object, bool training, bool input_grad,
                              bool weight_grad, bool bias_grad) {
  constexpr const char* fn = "batch_norm_backward";
  const py::array grad = float32_array(fn, grad_object, "grad_out");
  const py::array x = float32_array(fn, x_object, "x");
  const BatchNormShape s = shape_for(fn, x);
  check_same_shape(fn, grad, "grad_out", x, "x");
  const Optional weight = per_channel(fn, weight_object, "weight", x, true);
  const Optional mean = per_channel(fn, mean_object, "mean", x, false);
  const Optional invstd = per_channel(fn, invstd_object, "invstd", x, false);
  const auto channels = static_cast<py::ssize_t>(s.channels);
  py::object grad_x = py::none(), grad_w = py::none(), grad_b = py::none();
  float *gx = nullptr, *gw = nullptr, *gb = nullptr;
  if (input_grad) {
    py::array a = new_array<float>(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
    gx = mutable_floats(a);
    grad_x = a;
  }
  if (weight_grad) {
    py::array a = new_array<float>({channels});
    gw = mutable_floats(a);
    grad_w = a;
  }
  if (bias_grad) {
    py::array a = new_array<float>({channels});
    gb = mutable_floats(a);
    grad_b = a;
  }
  const float* w_data = data_or_null(weight);
  const float* mean_data = data_or_null(mean);
  const float* invstd_data = data_or_null(invstd);
  {
    py::gil_scoped_release release;
    odyssey::batch_norm_backward(floats(grad), floats(x), w_data, mean_data, invstd_data, training,
                                 gx, gw, gb, s);
  }
  return py::make_tuple(grad_x, grad_w, grad_b);
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def("batch_norm_forward", &batch_norm_forward, py::arg("x"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("running_mean") = py::none(),
        py::arg("running_var") = py::none(), py::kw_only(), py::arg("training"),
        py::arg("momentum") = 0.1, py::arg("eps") = 1e-5, py::arg("out") = py::none(),
        "(y, mean, invstd) of batch normalisation over dim 1 of x (batch, channels, ...). "
        "training: batch statistics (biased variance), running_mean/running_var (if given) "
        "updated in place with momentum and the unbiased variance; else the running statistics.");
  m.def("batch_norm_backward", &batch_norm_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("weight"), py::arg("mean"), py::arg("invstd"), py::kw_only(), py::arg("training"),
        py::arg("input_grad") = true, py::arg("weight_grad") = true, py::arg("bias_grad") = true,
        "(grad_x, grad_weight, grad_bias) of batch_norm_forward, each None when not asked for; "
        "mean and invstd are what the forward returned.");
}

}  // namespace odyssey::bindings
