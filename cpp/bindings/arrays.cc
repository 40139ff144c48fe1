// Checks shared by every binding: dtype, contiguity, alignment, shapes and overlap.
#include "arrays.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace odyssey::bindings {

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

}  // namespace odyssey::bindings
