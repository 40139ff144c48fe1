// sgemm: C = alpha * op(a) @ op(b) + beta * C (+ bias), on 2-D float32 arrays used in place.
#include "odyssey/gemm.h"

#include <string>

#include "arrays.h"
#include "bindings.h"
#include "overlap.h"

namespace odyssey::bindings {
namespace {

std::string shape_text(py::ssize_t rows, py::ssize_t cols) {
  return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")";
}

constexpr const char* kFn = "sgemm";

py::array matrix(const py::object& object, const char* name) {
  py::array array = float32_array(kFn, object, name);
  check_ndim(kFn, array, name, 2, "");
  return array;
}

py::array sgemm(const py::object& a_object, const py::object& b_object, bool trans_a, bool trans_b,
                double alpha, double beta, const py::object& bias_object,
                const py::object& out_object) {
  const py::array a = matrix(a_object, "a");
  const py::array b = matrix(b_object, "b");
  const py::ssize_t m = a.shape(trans_a ? 1 : 0), k = a.shape(trans_a ? 0 : 1);
  const py::ssize_t b_k = b.shape(trans_b ? 1 : 0), n = b.shape(trans_b ? 0 : 1);
  if (k != b_k) {
    throw py::value_error("sgemm: inner dimensions differ: op(a) is " + shape_text(m, k) +
                          " but op(b) is " + shape_text(b_k, n));
  }

  // A default py::array is an empty float64 array, not a null handle: track presence separately.
  const bool has_bias = !bias_object.is_none();
  py::array bias;
  if (has_bias) {
    bias = float32_array(kFn, bias_object, "bias");
    if (bias.ndim() != 1 || bias.shape(0) != n) {
      throw py::value_error("sgemm: bias has shape " + shape_of(bias) + " but the result " +
                            shape_text(m, n) + " needs (" + std::to_string(n) + ",)");
    }
  }
  py::array out;
  if (out_object.is_none()) {
    if (beta != 0.0) {
      throw py::value_error("sgemm: beta = " + std::to_string(beta) +
                            " scales an existing C; pass it as out");
    }
    out = new_array<float>({m, n});
  } else {
    out = float32_array(kFn, out_object, "out");
    check_writeable(kFn, out, "out");
    if (out.ndim() != 2 || out.shape(0) != m || out.shape(1) != n) {
      throw py::value_error("sgemm: out has shape " + shape_of(out) + " but the result is " +
                            shape_text(m, n) + " (op(a) " + shape_text(m, k) + ", op(b) " +
                            shape_text(k, n) + ")");
    }
    // sgemm writes C while it still reads A and B.
    check_disjoint(kFn, out, "out", a, "a");
    check_disjoint(kFn, out, "out", b, "b");
    if (has_bias) check_disjoint(kFn, out, "out", bias, "bias");
  }

  const auto rows = static_cast<std::size_t>(m), cols = static_cast<std::size_t>(n),
             depth = static_cast<std::size_t>(k);
  const float* bias_data = has_bias ? floats(bias) : nullptr;
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    odyssey::sgemm_bias(
        trans_a ? Trans::kYes : Trans::kNo, trans_b ? Trans::kYes : Trans::kNo, rows, cols, depth,
        static_cast<float>(alpha), floats(a), static_cast<std::size_t>(a.shape(1)), floats(b),
        static_cast<std::size_t>(b.shape(1)), static_cast<float>(beta), bias_data, out_data, cols);
  }
  return out;
}

// The keyword-only arguments, parsed here: pybind11's own keyword matching costs about 0.5 us a
// call with this many parameters, a tenth of a 64 x 64 x 64 product.
struct Options {
  bool trans_a = false, trans_b = false;
  double alpha = 1.0, beta = 0.0;
  py::object bias = py::none(), out = py::none();
};

// Python's bool or NumPy's (whose type is also named "bool"); an int is more likely a mistake.
bool flag(const char* fn, const py::handle& value, const char* name) {
  if (!PyBool_Check(value.ptr()) &&
      std::string(py::str(py::type::of(value).attr("__name__"))) != "bool") {
    throw py::type_error(std::string(fn) + ": " + name + " must be a bool, got " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  }
  return value.cast<bool>();
}

double scalar(const py::handle& value, const char* name) {
  const double result = PyFloat_AsDouble(value.ptr());
  if (result == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::type_error(std::string("sgemm: ") + name + " must be a real number, got " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  }
  return result;
}

Options parse_options(const py::kwargs& kwargs) {
  Options options;
  for (const auto& [key, value] : kwargs) {
    const std::string name = py::str(key);
    if (name == "trans_a") {
      options.trans_a = flag(kFn, value, "trans_a");
    } else if (name == "trans_b") {
      options.trans_b = flag(kFn, value, "trans_b");
    } else if (name == "alpha") {
      options.alpha = scalar(value, "alpha");
    } else if (name == "beta") {
      options.beta = scalar(value, "beta");
    } else if (name == "bias") {
      options.bias = py::reinterpret_borrow<py::object>(value);
    } else if (name == "out") {
      options.out = py::reinterpret_borrow<py::object>(value);
    } else {
      throw py::type_error("sgemm() got an unexpected keyword argument '" + name + "'");
    }
  }
  return options;
}

// grad_out (batch, out), input (batch, in), weight (out, in) and relu_output like grad_out, or
// ValueError naming the shapes.
py::tuple linear_backward(const py::object& grad_object, const py::object& input_object,
                          const py::object& weight_object, const py::object& relu_object,
                          const py::object& input_grad_object, const py::object& weight_grad_object,
                          const py::object& bias_grad_object) {
  constexpr const char* fn = "linear_backward";
  const bool input_grad = flag(fn, input_grad_object, "input_grad");
  const bool weight_grad = flag(fn, weight_grad_object, "weight_grad");
  const bool bias_grad = flag(fn, bias_grad_object, "bias_grad");
  const py::array grad = float32_array(fn, grad_object, "grad_out");
  const py::array input = float32_array(fn, input_object, "input");
  const py::array weight = float32_array(fn, weight_object, "weight");
  check_ndim(fn, grad, "grad_out", 2, "(batch, out_features)");
  check_ndim(fn, input, "input", 2, "(batch, in_features)");
  check_ndim(fn, weight, "weight", 2, "(out_features, in_features)");
  const py::ssize_t batch = input.shape(0), in = input.shape(1), out = weight.shape(0);
  if (weight.shape(1) != in) {
    throw py::value_error(std::string(fn) + ": input " + shape_of(input) + " has " +
                          std::to_string(in) + " features but weight " + shape_of(weight) +
                          " expects " + std::to_string(weight.shape(1)));
  }
  if (grad.shape(0) != batch || grad.shape(1) != out) {
    throw py::value_error(std::string(fn) + ": grad_out has shape " + shape_of(grad) +
                          " but input " + shape_of(input) + " and weight " + shape_of(weight) +
                          " give outputs of shape " + shape_text(batch, out));
  }
  const bool relu = !relu_object.is_none();
  py::array relu_output;
  if (relu) {
    relu_output = float32_array(fn, relu_object, "relu_output");
    check_same_shape(fn, relu_output, "relu_output", grad, "grad_out");
  }
  py::object dx = py::none(), dw = py::none(), db = py::none();
  float *dx_data = nullptr, *dw_data = nullptr, *db_data = nullptr;
  if (input_grad) {
    auto array = new_array<float>({batch, in});
    dx_data = array.mutable_data();
    dx = std::move(array);
  }
  if (weight_grad) {
    auto array = new_array<float>({out, in});
    dw_data = array.mutable_data();
    dw = std::move(array);
  }
  if (bias_grad) {
    auto array = new_array<float>({out});
    db_data = array.mutable_data();
    db = std::move(array);
  }
  {
    py::gil_scoped_release release;
    odyssey::linear_backward(floats(grad), floats(input), floats(weight),
                             relu ? floats(relu_output) : nullptr, static_cast<std::size_t>(batch),
                             static_cast<std::size_t>(in), static_cast<std::size_t>(out), dx_data,
                             dw_data, db_data);
  }
  return py::make_tuple(dx, dw, db);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("linear_backward", &linear_backward, py::arg("grad_out"), py::arg("input"),
        py::arg("weight"), py::arg("relu_output") = py::none(),
        py::arg("input_grad") = py::bool_(true), py::arg("weight_grad") = py::bool_(true),
        py::arg("bias_grad") = py::bool_(true),
        "linear_backward(grad_out, input, weight, relu_output=None, input_grad=True, "
        "weight_grad=True, bias_grad=True) -> (grad_input, grad_weight, grad_bias)\n\n"
        "The gradients of input @ weight.T + bias (2-D float32), or of its ReLU when relu_output "
        "(that ReLU's output) is given: grad_out @ weight, grad_out.T @ input and grad_out's sums "
        "over the batch, each None when not asked for. One parallel job; each product has the "
        "bits of its own sgemm call.");
  m.def(
      "sgemm",
      [](const py::object& a, const py::object& b, const py::kwargs& kwargs) {
        const Options o = parse_options(kwargs);
        return sgemm(a, b, o.trans_a, o.trans_b, o.alpha, o.beta, o.bias, o.out);
      },
      py::arg("a"), py::arg("b"),
      "sgemm(a, b, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, bias=None, out=None)\n\n"
      "alpha * op(a) @ op(b) + beta * out + bias for 2-D float32 C-contiguous arrays; op(x) is "
      "x.T when trans_x. bias (n,) is added to every row as the result is written; beta != 0 "
      "needs out. The same bits for every thread count.");
}

}  // namespace odyssey::bindings
