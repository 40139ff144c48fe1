// Activation functions and their gradients.
#include "odyssey/activation.h"

#include <string>

#include "arrays.h"
#include "bindings.h"

namespace odyssey::bindings {
namespace {

using Forward = void (*)(const float*, float*, std::size_t);
using Backward = void (*)(const float*, const float*, float*, std::size_t);
using SlopeForward = void (*)(const float*, float, float*, std::size_t);
using SlopeBackward = void (*)(const float*, const float*, float, float*, std::size_t);

py::array forward(const char* fn, Forward op, const py::object& x_object,
                  const py::object& out_object) {
  const py::array x = float32_array(fn, x_object, "x");
  py::array out = output_for(fn, out_object, x, {{&x, "x"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(x), out_data, length(x));
  }
  return out;
}

// grad_x from grad_out and a saved array (the forward input or output, named `saved_name`).
py::array backward(const char* fn, Backward op, const py::object& grad_object,
                   const py::object& saved_object, const char* saved_name,
                   const py::object& out_object) {
  const py::array grad = float32_array(fn, grad_object, "grad_out");
  const py::array saved = float32_array(fn, saved_object, saved_name);
  check_same_shape(fn, grad, "grad_out", saved, saved_name);
  py::array out = output_for(fn, out_object, grad, {{&grad, "grad_out"}, {&saved, saved_name}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(grad), floats(saved), out_data, length(grad));
  }
  return out;
}

// hardtanh's interval: ordered bounds (NaN bounds fail the check too).
void check_bounds(const char* fn, float lo, float hi) {
  if (!(lo <= hi)) {
    throw py::value_error(std::string(fn) + ": min_val " + std::to_string(lo) +
                          " must be <= max_val " + std::to_string(hi));
  }
}

void bind_saved_output(py::module_& m, const char* name, Forward fwd, Backward bwd,
                       const char* doc) {
  m.def(
      name,
      [name, fwd](const py::object& x, const py::object& out) {
        return forward(name, fwd, x, out);
      },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(), doc);
  const std::string backward_name = std::string(name) + "_backward";
  const std::string backward_doc =
      std::string("Gradient of ") + name + " from grad_out and its forward output y.";
  m.def(
      backward_name.c_str(),
      [backward_name, bwd](const py::object& grad_out, const py::object& y, const py::object& out) {
        return backward(backward_name.c_str(), bwd, grad_out, y, "y", out);
      },
      py::arg("grad_out"), py::arg("y"), py::kw_only(), py::arg("out") = py::none(),
      backward_doc.c_str());
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def(
      "relu_backward",
      [](const py::object& grad_out, const py::object& x, const py::object& out) {
        return backward("relu_backward", &odyssey::relu_backward, grad_out, x, "x", out);
      },
      py::arg("grad_out"), py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "x <= 0 ? 0 : grad_out, from the forward input x (PyTorch's convention: 0 at x == 0).");
  m.def(
      "leaky_relu",
      [](const py::object& x_object, float slope, const py::object& out_object) {
        constexpr const char* fn = "leaky_relu";
        const py::array x = float32_array(fn, x_object, "x");
        py::array out = output_for(fn, out_object, x, {{&x, "x"}});
        float* out_data = mutable_floats(out);
        {
          py::gil_scoped_release release;
          odyssey::leaky_relu(floats(x), slope, out_data, length(x));
        }
        return out;
      },
      py::arg("x"), py::arg("negative_slope"), py::kw_only(), py::arg("out") = py::none(),
      "x > 0 ? x : x * negative_slope elementwise.");
  m.def(
      "leaky_relu_backward",
      [](const py::object& grad_object, const py::object& x_object, float slope,
         const py::object& out_object) {
        constexpr const char* fn = "leaky_relu_backward";
        const py::array grad = float32_array(fn, grad_object, "grad_out");
        const py::array x = float32_array(fn, x_object, "x");
        check_same_shape(fn, grad, "grad_out", x, "x");
        py::array out = output_for(fn, out_object, grad, {{&grad, "grad_out"}, {&x, "x"}});
        float* out_data = mutable_floats(out);
        {
          py::gil_scoped_release release;
          odyssey::leaky_relu_backward(floats(grad), floats(x), slope, out_data, length(x));
        }
        return out;
      },
      py::arg("grad_out"), py::arg("x"), py::arg("negative_slope"), py::kw_only(),
      py::arg("out") = py::none(),
      "x > 0 ? grad_out : grad_out * negative_slope, from the forward input x.");
  m.def(
      "hardtanh",
      [](const py::object& x_object, float lo, float hi, const py::object& out_object) {
        constexpr const char* fn = "hardtanh";
        const py::array x = float32_array(fn, x_object, "x");
        check_bounds(fn, lo, hi);
        py::array out = output_for(fn, out_object, x, {{&x, "x"}});
        float* out_data = mutable_floats(out);
        {
          py::gil_scoped_release release;
          odyssey::hardtanh(floats(x), lo, hi, out_data, length(x));
        }
        return out;
      },
      py::arg("x"), py::arg("min_val"), py::arg("max_val"), py::kw_only(),
      py::arg("out") = py::none(), "x clamped to [min_val, max_val] elementwise; NaN propagates.");
  m.def(
      "hardtanh_backward",
      [](const py::object& grad_object, const py::object& x_object, float lo, float hi,
         const py::object& out_object) {
        constexpr const char* fn = "hardtanh_backward";
        const py::array grad = float32_array(fn, grad_object, "grad_out");
        const py::array x = float32_array(fn, x_object, "x");
        check_same_shape(fn, grad, "grad_out", x, "x");
        check_bounds(fn, lo, hi);
        py::array out = output_for(fn, out_object, grad, {{&grad, "grad_out"}, {&x, "x"}});
        float* out_data = mutable_floats(out);
        {
          py::gil_scoped_release release;
          odyssey::hardtanh_backward(floats(grad), floats(x), lo, hi, out_data, length(x));
        }
        return out;
      },
      py::arg("grad_out"), py::arg("x"), py::arg("min_val"), py::arg("max_val"), py::kw_only(),
      py::arg("out") = py::none(),
      "min_val < x < max_val ? grad_out : 0, from the forward input x (PyTorch's convention).");
  m.def(
      "silu",
      [](const py::object& x, const py::object& out) {
        return forward("silu", &odyssey::silu, x, out);
      },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(), "x * sigmoid(x) elementwise.");
  m.def(
      "silu_backward",
      [](const py::object& grad_out, const py::object& x, const py::object& out) {
        return backward("silu_backward", &odyssey::silu_backward, grad_out, x, "x", out);
      },
      py::arg("grad_out"), py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "grad_out * s * (1 + x * (1 - s)), s = sigmoid(x), from the forward input x.");
  bind_saved_output(m, "sigmoid", &odyssey::sigmoid, &odyssey::sigmoid_backward,
                    "1 / (1 + exp(-x)) elementwise; exactly 1 for large x, >= 0 for very negative "
                    "x, NaN propagates.");
  bind_saved_output(m, "tanh", &odyssey::tanh, &odyssey::tanh_backward,
                    "tanh(x) elementwise; exactly +-1 at saturation, NaN propagates.");
  bind_saved_output(m, "lecun_tanh", &odyssey::lecun_tanh, &odyssey::lecun_tanh_backward,
                    "LeCun's scaled tanh 1.7159 * tanh(2x / 3) elementwise.");
}

}  // namespace odyssey::bindings
