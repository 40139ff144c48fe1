// Array checks shared by every binding. Arrays are used in place, never converted; anything a
// kernel cannot take raises TypeError or ValueError whose message starts with the binding's name
// `fn` and names the argument and the offending shapes.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace odyssey::bindings {

namespace py = pybind11;

// "(2, 3)", "(5,)": for error messages.
std::string shape_of(const py::array& array);
std::string strides_of(const py::array& array);

// A C-contiguous, aligned ndarray of T, or TypeError/ValueError naming `fn` and `name`.
// Instantiated for float, std::int32_t, std::int64_t and std::uint8_t.
template <typename T>
py::array array_of(const char* fn, const py::handle& object, const char* name);

inline py::array float32_array(const char* fn, const py::handle& object, const char* name) {
  return array_of<float>(fn, object, name);
}

// ValueError unless `array` has `ndim` dimensions; `layout` (may be empty) describes them.
void check_ndim(const char* fn, const py::array& array, const char* name, py::ssize_t ndim,
                const char* layout);

// ValueError naming both shapes unless a and b have the same shape.
void check_same_shape(const char* fn, const py::array& a, const char* a_name, const py::array& b,
                      const char* b_name);

// ValueError unless the kernel may write into `array`.
void check_writeable(const char* fn, const py::array& array, const char* name);

// A new C-contiguous array of T from the buffer cache (odyssey/buffer_cache.h): 64-byte aligned,
// and its memory goes back to the cache when the array is freed. Instantiated for float and
// std::int32_t.
template <typename T>
py::array_t<T> new_array(const std::vector<py::ssize_t>& shape);

// `out` checked against `like` (shape) and `inputs` (overlap, in place allowed), or a new array
// shaped like `like`.
py::array output_for(const char* fn, const py::object& out, const py::array& like,
                     std::initializer_list<std::pair<const py::array*, const char*>> inputs);

inline std::size_t length(const py::array& array) { return static_cast<std::size_t>(array.size()); }
inline const float* floats(const py::array& array) {
  return static_cast<const float*>(array.data());
}
inline float* mutable_floats(py::array& array) { return static_cast<float*>(array.mutable_data()); }

}  // namespace odyssey::bindings
