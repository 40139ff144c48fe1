// Window arguments of the convolution and pooling bindings.
#include "window.h"

#include <cstdint>

namespace odyssey::bindings {
namespace {

constexpr long long kLimit = 1LL << 31;

long long int_arg(const std::string& fn, const py::handle& item, const char* name) {
  if (!py::isinstance<py::int_>(item)) {
    throw py::type_error(fn + ": " + name + " must hold ints, got " +
                         std::string(py::str(py::type::of(item).attr("__name__"))));
  }
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
  if (overflow != 0 || value >= kLimit || value <= -kLimit) {
    throw py::value_error(fn + ": " + name +
                          " has a value out of range: " + std::string(py::str(item)));
  }
  return value;
}

}  // namespace

Pair pair_arg(const std::string& fn, const py::object& object, const char* name) {
  if (py::isinstance<py::int_>(object)) {
    const long long v = int_arg(fn, object, name);
    return {v, v};
  }
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object) ||
      py::len(object) != 2) {
    throw py::type_error(fn + ": " + name + " must be an int or a pair of ints (h, w), got " +
                         std::string(py::repr(object)));
  }
  const auto sequence = py::reinterpret_borrow<py::sequence>(object);
  return {int_arg(fn, sequence[0], name), int_arg(fn, sequence[1], name)};
}

Dims4 input_shape_arg(const std::string& fn, const py::object& object) {
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object) ||
      py::len(object) != 4) {
    throw py::value_error(fn +
                          ": input_shape must be 4 ints (batch, channels, height, width), got " +
                          std::string(py::repr(object)));
  }
  const auto sequence = py::reinterpret_borrow<py::sequence>(object);
  Dims4 dims{};
  for (std::size_t i = 0; i < 4; ++i) {
    dims[i] = int_arg(fn, sequence[i], "input_shape");
    if (dims[i] < 0) {
      throw py::value_error(fn +
                            ": input_shape has a negative size: " + std::string(py::repr(object)));
    }
  }
  return dims;
}

void check_stride(const std::string& fn, const Pair& stride) {
  if (stride.h < 1 || stride.w < 1) {
    throw py::value_error(fn + ": stride must be >= 1, got (" + std::to_string(stride.h) + ", " +
                          std::to_string(stride.w) + ")");
  }
}

void check_padding(const std::string& fn, const Pair& padding, const Pair& kernel) {
  const std::string text = "(" + std::to_string(padding.h) + ", " + std::to_string(padding.w) + ")";
  if (padding.h < 0 || padding.w < 0) {
    throw py::value_error(fn + ": padding must be >= 0, got " + text);
  }
  if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w) {
    throw py::value_error(fn + ": padding " + text + " must be at most half the kernel size (" +
                          std::to_string(kernel.h) + ", " + std::to_string(kernel.w) + ")");
  }
}

void check_no_overlap(const std::string& fn, const py::array& out, const py::array& input,
                      const char* name) {
  const auto out_begin = reinterpret_cast<std::uintptr_t>(out.data());
  const auto in_begin = reinterpret_cast<std::uintptr_t>(input.data());
  const auto out_end = out_begin + static_cast<std::uintptr_t>(out.nbytes());
  const auto in_end = in_begin + static_cast<std::uintptr_t>(input.nbytes());
  if (out.nbytes() != 0 && input.nbytes() != 0 && out_begin < in_end && in_begin < out_end) {
    throw py::value_error(fn + ": out shares memory with " + name + "; pass a separate array");
  }
}

std::string dims_text(const Dims4& d) {
  return "(" + std::to_string(d[0]) + ", " + std::to_string(d[1]) + ", " + std::to_string(d[2]) +
         ", " + std::to_string(d[3]) + ")";
}

}  // namespace odyssey::bindings
