// odyssey._kernels: argument checks and NumPy <-> pointer conversion, nothing else. Arrays are
// used in place, never converted; anything a kernel cannot take raises TypeError or ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "odyssey/build_info.h"
#include "odyssey/dispatch.h"
#include "odyssey/eltwise.h"
#include "odyssey/parallel.h"

namespace py = pybind11;

namespace {

std::string shape_of(const py::array& array) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    text += std::to_string(array.shape(d));
    text += (array.ndim() == 1) ? "," : (d + 1 < array.ndim() ? ", " : "");
  }
  return text + ")";
}

std::string strides_of(const py::array& array) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    text += std::to_string(array.strides(d)) + (d + 1 < array.ndim() ? ", " : "");
  }
  return text + ")";
}

// A C-contiguous, aligned float32 ndarray, or TypeError/ValueError naming `name` and the problem.
py::array float32_array(const py::handle& object, const char* name) {
  if (!py::isinstance<py::array>(object)) {
    throw py::type_error(std::string(name) + ": expected a numpy.ndarray of float32, got " +
                         std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  auto array = py::reinterpret_borrow<py::array>(object);
  if (!array.dtype().equal(py::dtype::of<float>())) {
    throw py::type_error(std::string(name) + ": expected dtype float32, got " +
                         std::string(py::str(array.dtype())) + " with shape " + shape_of(array));
  }
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(std::string(name) + ": expected a C-contiguous array, got shape " +
                          shape_of(array) + " with strides " + strides_of(array) +
                          "; pass numpy.ascontiguousarray(" + name + ")");
  }
  if (reinterpret_cast<std::uintptr_t>(array.data()) % alignof(float) != 0) {
    throw py::value_error(std::string(name) +
                          ": expected float32 data aligned to 4 bytes; copy the array first");
  }
  return array;
}

void check_same_shape(const py::array& a, const char* a_name, const py::array& b,
                      const char* b_name) {
  const bool same = a.ndim() == b.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), b.shape());
  if (!same) {
    throw py::value_error(std::string("shape mismatch: ") + a_name + " has shape " + shape_of(a) +
                          " but " + b_name + " has shape " + shape_of(b) +
                          " (no broadcasting here)");
  }
}

// Elementwise kernels run in parallel chunks: an output that overlaps an input at an offset would
// make the result depend on the chunk order, so only exact aliasing is allowed.
void check_no_partial_overlap(const py::array& out, const py::array& input, const char* name) {
  const auto* out_begin = static_cast<const char*>(out.data());
  const auto* in_begin = static_cast<const char*>(input.data());
  const auto bytes = static_cast<std::size_t>(out.nbytes());
  const bool overlap = out_begin < in_begin + bytes && in_begin < out_begin + bytes;
  if (bytes != 0 && overlap && out_begin != in_begin) {
    throw py::value_error(std::string("out partially overlaps ") + name +
                          "; pass the input itself as out, or a separate array");
  }
}

// `out` checked against `like` (shape) and `inputs` (overlap), or a new array shaped like `like`.
py::array output_for(const py::object& out, const py::array& like,
                     std::initializer_list<std::pair<const py::array*, const char*>> inputs) {
  if (out.is_none()) {
    std::vector<py::ssize_t> shape(like.shape(), like.shape() + like.ndim());
    return py::array_t<float>(shape);
  }
  py::array result = float32_array(out, "out");
  if (!result.writeable()) throw py::value_error("out: the array is read-only");
  check_same_shape(result, "out", like, inputs.begin()->second);
  for (const auto& [input, name] : inputs) check_no_partial_overlap(result, *input, name);
  return result;
}

std::size_t length(const py::array& array) { return static_cast<std::size_t>(array.size()); }
const float* floats(const py::array& array) { return static_cast<const float*>(array.data()); }
float* mutable_floats(py::array& array) { return static_cast<float*>(array.mutable_data()); }

using BinaryOp = void (*)(const float*, const float*, float*, std::size_t);
using UnaryOp = void (*)(const float*, float*, std::size_t);

py::array binary(BinaryOp op, const py::object& a_object, const py::object& b_object,
                 const py::object& out_object) {
  const py::array a = float32_array(a_object, "a");
  const py::array b = float32_array(b_object, "b");
  check_same_shape(a, "a", b, "b");
  py::array out = output_for(out_object, a, {{&a, "a"}, {&b, "b"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(a), floats(b), out_data, length(a));
  }
  return out;
}

py::array unary(UnaryOp op, const py::object& x_object, const py::object& out_object) {
  const py::array x = float32_array(x_object, "x");
  py::array out = output_for(out_object, x, {{&x, "x"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(x), out_data, length(x));
  }
  return out;
}

py::list isa_names(const std::vector<odyssey::Isa>& isas) {
  py::list names;
  for (odyssey::Isa isa : isas) names.append(odyssey::isa_name(isa));
  return names;
}

py::dict cpu_info() {
  const odyssey::CpuFeatures& cpu = odyssey::cpu_features();
  std::vector<odyssey::Isa> compiled;
  for (odyssey::Isa isa : odyssey::kAllIsas) {
    if (odyssey::compiled_table(isa) != nullptr) compiled.push_back(isa);
  }
  py::dict features;
  features["avx2_fma"] = cpu.avx2_fma;
  features["avx512f"] = cpu.avx512f;
  features["neon"] = cpu.neon;

  py::dict info;
  info["version"] = odyssey::version();
  info["arch"] = cpu.arch;
  info["cpu"] = cpu.brand;
  info["features"] = features;
  info["isa_compiled"] = isa_names(compiled);
  info["isa_available"] = isa_names(odyssey::available_isas());
  info["isa_selected"] = odyssey::isa_name(odyssey::selected_isa());
  info["threads"] = odyssey::num_threads();
  info["compiler"] = odyssey::compiler();
  info["build_type"] = odyssey::build_type();
  return info;
}

}  // namespace

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "ML Odyssey's compiled kernels (float32, C-contiguous NumPy arrays, no copies).";
  m.attr("__version__") = odyssey::version();

  // Decide the ISA and thread count now, so that a bad ODYSSEY_ISA or ODYSSEY_NUM_THREADS fails the
  // import with its message instead of the first kernel call.
  odyssey::active_kernels();
  odyssey::num_threads();

  m.def("cpu_info", &cpu_info,
        "What was detected and chosen: CPU features, ISA variants, threads, build.");
  m.def("set_isa", py::overload_cast<std::string_view>(&odyssey::select_isa), py::arg("name"),
        "Use ISA variant `name` (scalar, avx2, avx512, neon) for every later kernel call.");
  m.def("get_num_threads", &odyssey::num_threads, "Threads that parallel kernels use.");
  m.def("set_num_threads", &odyssey::set_num_threads, py::arg("n"),
        "Use n >= 1 threads for parallel kernels; results are bitwise the same for every n.");

  m.def(
      "add",
      [](const py::object& a, const py::object& b, const py::object& out) {
        return binary(&odyssey::add, a, b, out);
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("out") = py::none(),
      "a + b elementwise; a, b (and out) float32 C-contiguous arrays of one shape.");
  m.def(
      "mul",
      [](const py::object& a, const py::object& b, const py::object& out) {
        return binary(&odyssey::mul, a, b, out);
      },
      py::arg("a"), py::arg("b"), py::kw_only(), py::arg("out") = py::none(),
      "a * b elementwise; a, b (and out) float32 C-contiguous arrays of one shape.");
  m.def(
      "relu",
      [](const py::object& x, const py::object& out) { return unary(&odyssey::relu, x, out); },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "max(x, 0) elementwise; NaN propagates.");
  m.def(
      "sum",
      [](const py::object& x_object) {
        const py::array x = float32_array(x_object, "x");
        py::gil_scoped_release release;
        return odyssey::sum(floats(x), length(x));
      },
      py::arg("x"),
      "Sum of all elements of a float32 C-contiguous array; the same bits for every thread count.");
}
