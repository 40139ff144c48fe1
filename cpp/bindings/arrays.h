// Argument checks shared by every binding. Arrays are used in place, never converted; anything a
// kernel cannot take raises TypeError or ValueError naming the argument and the offending shapes.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>

namespace odyssey::bindings {

namespace py = pybind11;

// "(2, 3)", "(5,)": for error messages.
std::string shape_of(const py::array& array);
std::string strides_of(const py::array& array);

// A C-contiguous, aligned float32 ndarray, or TypeError/ValueError naming `name` and the problem.
py::array float32_array(const py::handle& object, const char* name);

// ValueError naming both shapes unless a and b have the same shape.
void check_same_shape(const py::array& a, const char* a_name, const py::array& b,
                      const char* b_name);

// Kernels run in parallel chunks: an output that overlaps an input at an offset would make the
// result depend on the chunk order, so only exact aliasing is allowed.
void check_no_partial_overlap(const py::array& out, const py::array& input, const char* name);

// `out` checked against `like` (shape) and `inputs` (overlap), or a new array shaped like `like`.
py::array output_for(const py::object& out, const py::array& like,
                     std::initializer_list<std::pair<const py::array*, const char*>> inputs);

inline std::size_t length(const py::array& array) { return static_cast<std::size_t>(array.size()); }
inline const float* floats(const py::array& array) {
  return static_cast<const float*>(array.data());
}
inline float* mutable_floats(py::array& array) { return static_cast<float*>(array.mutable_data()); }

}  // namespace odyssey::bindings
