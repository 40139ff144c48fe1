// Checks shared by every binding: dtype, contiguity, alignment, dimensions, shapes and outputs.
#include "arrays.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "odyssey/buffer_cache.h"
#include "overlap.h"

namespace odyssey::bindings {
namespace {

std::string prefix(const char* fn, const char* name) { return std::string(fn) + ": " + name; }

}  // namespace

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

template <typename T>
py::array array_of(const char* fn, const py::handle& object, const char* name) {
  const py::dtype dtype = py::dtype::of<T>();
  // Named only on the way to an error: py::str of a dtype costs microseconds, several times a
  // LeNet step's whole budget for a kernel call's checks.
  const auto dtype_name = [&dtype] { return std::string(py::str(dtype)); };
  if (!py::isinstance<py::array>(object)) {
    throw py::type_error(prefix(fn, name) + ": expected a numpy.ndarray of " + dtype_name() +
                         ", got " + std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  auto array = py::reinterpret_borrow<py::array>(object);
  if (!array.dtype().equal(dtype)) {
    throw py::type_error(prefix(fn, name) + ": expected dtype " + dtype_name() + ", got " +
                         std::string(py::str(array.dtype())) + " with shape " + shape_of(array));
  }
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(prefix(fn, name) + ": expected a C-contiguous array, got shape " +
                          shape_of(array) + " with strides " + strides_of(array) +
                          "; pass numpy.ascontiguousarray(" + name + ")");
  }
  if (reinterpret_cast<std::uintptr_t>(array.data()) % alignof(T) != 0) {
    throw py::value_error(prefix(fn, name) + ": expected " + dtype_name() + " data aligned to " +
                          std::to_string(alignof(T)) + " bytes; copy the array first");
  }
  return array;
}

template py::array array_of<float>(const char*, const py::handle&, const char*);
template py::array array_of<std::int32_t>(const char*, const py::handle&, const char*);
template py::array array_of<std::int64_t>(const char*, const py::handle&, const char*);
template py::array array_of<std::uint8_t>(const char*, const py::handle&, const char*);

void check_ndim(const char* fn, const py::array& array, const char* name, py::ssize_t ndim,
                const char* layout) {
  if (array.ndim() != ndim) {
    const std::string described = *layout != '\0' ? std::string(" ") + layout : "";
    throw py::value_error(prefix(fn, name) + " must be " + std::to_string(ndim) + "-D" + described +
                          ", got shape " + shape_of(array));
  }
}

void check_same_shape(const char* fn, const py::array& a, const char* a_name, const py::array& b,
                      const char* b_name) {
  const bool same = a.ndim() == b.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), b.shape());
  if (!same) {
    throw py::value_error(prefix(fn, a_name) + " has shape " + shape_of(a) + " but " + b_name +
                          " has shape " + shape_of(b) + " (no broadcasting here)");
  }
}

void check_writeable(const char* fn, const py::array& array, const char* name) {
  if (!array.writeable()) {
    throw py::value_error(prefix(fn, name) + " " + shape_of(array) +
                          " is read-only; the kernel writes it in place");
  }
}

template <typename T>
py::array_t<T> new_array(const std::vector<py::ssize_t>& shape) {
  std::size_t bytes = sizeof(T);
  for (py::ssize_t extent : shape) {
    if (extent < 0 || __builtin_mul_overflow(bytes, static_cast<std::size_t>(extent), &bytes)) {
      throw std::bad_alloc();  // no such array fits in memory (MemoryError in Python)
    }
  }
  std::unique_ptr<void, void (*)(void*)> data(buffer_allocate(bytes),
                                              [](void* block) { buffer_release(block); });
  py::capsule owner(data.get(), [](void* block) { buffer_release(block); });
  return py::array_t<T>(shape, static_cast<const T*>(data.release()), owner);
}

template py::array_t<float> new_array<float>(const std::vector<py::ssize_t>&);
template py::array_t<std::int32_t> new_array<std::int32_t>(const std::vector<py::ssize_t>&);

py::array output_for(const char* fn, const py::object& out, const py::array& like,
                     std::initializer_list<std::pair<const py::array*, const char*>> inputs) {
  if (out.is_none()) {
    std::vector<py::ssize_t> shape(like.shape(), like.shape() + like.ndim());
    return new_array<float>(shape);
  }
  py::array result = float32_array(fn, out, "out");
  check_writeable(fn, result, "out");
  check_same_shape(fn, result, "out", like, inputs.begin()->second);
  for (const auto& [input, name] : inputs) check_disjoint_or_in_place(fn, result, *input, name);
  return result;
}

}  // namespace odyssey::bindings
