// Elementwise kernels and the sum reduction.
#include "odyssey/eltwise.h"

#include "arrays.h"
#include "bindings.h"

namespace odyssey::bindings {
namespace {

using BinaryOp = void (*)(const float*, const float*, float*, std::size_t);
using UnaryOp = void (*)(const float*, float*, std::size_t);

py::array binary(const char* fn, BinaryOp op, const py::object& a_object,
                 const py::object& b_object, const py::object& out_object) {
  const py::array a = float32_array(fn, a_object, "a");
  const py::array b = float32_array(fn, b_object, "b");
  check_same_shape(fn, a, "a", b, "b");
  py::array out = output_for(fn, out_object, a, {{&a, "a"}, {&b, "b"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(a), floats(b), out_data, length(a));
  }
  return out;
}

py::array unary(const char* fn, UnaryOp op, const py::object& x_object,
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

}  // namespace

void bind_eltwise(py::module_& m) {
  m.def(
      "add",
      [](const py::object& a, const py::object& b, const py::object& out) {
        return binary("add", &odyssey::add, a, b, out);
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("out") = py::none(),
      "a + b elementwise; a, b (and out) float32 C-contiguous arrays of one shape.");
  m.def(
      "mul",
      [](const py::object& a, const py::object& b, const py::object& out) {
        return binary("mul", &odyssey::mul, a, b, out);
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("out") = py::none(),
      "a * b elementwise; a, b (and out) float32 C-contiguous arrays of one shape.");
  m.def(
      "relu",
      [](const py::object& x, const py::object& out) {
        return unary("relu", &odyssey::relu, x, out);
      },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "max(x, 0) elementwise; NaN propagates.");
  m.def(
      "sum",
      [](const py::object& x_object) {
        const py::array x = float32_array("sum", x_object, "x");
        py::gil_scoped_release release;
        return odyssey::sum(floats(x), length(x));
      },
      py::arg("x"),
      "Sum of all elements of a float32 C-contiguous array; the same bits for every thread count.");
}

}  // namespace odyssey::bindings
