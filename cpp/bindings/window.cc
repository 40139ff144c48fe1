// Window arguments of the convolution and pooling bindings.
#include "window.h"

namespace odyssey::bindings {
namespace {

constexpr long long kLimit = 1LL << 31;

long long int_arg(const char* fn, const py::handle& item, const char* name) {
  if (!py::isinstance<py::int_>(item)) {
    throw py::type_error(std::string(fn) + ": " + name + " must hold ints, got " +
                         std::string(py::str(py::type::of(item).attr("__name__"))));
  }
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
  if (overflow != 0 || value >= kLimit || value <= -kLimit) {
    throw py::value_error(std::string(fn) + ": " + name +
                          " has a value out of range: " + std::string(py::str(item)));
  }
  return value;
}

}  // namespace

Pair pair_arg(const char* fn, const py::object& object, const char* name) {
  if (py::isinstance<py::int_>(object)) {
    const long long v = int_arg(fn, object, name);
    return {v, v};
  }
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object) ||
      py::len(object) != 2) {
    throw py::type_error(std::string(fn) + ": " + name +
                         " must be an int or a pair of ints (h, w), got " +
                         std::string(py::repr(object)));
  }
  const auto sequence = py::reinterpret_borrow<py::sequence>(object);
  return {int_arg(fn, sequence[0], name), int_arg(fn, sequence[1], name)};
}

Dims4 input_shape_arg(const char* fn, const py::object& object, const char* name) {
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object) ||
      py::len(object) != 4) {
    throw py::value_error(std::string(fn) + ": " + name +
                          " must be 4 ints (batch, channels, height, width), got " +
                          std::string(py::repr(object)));
  }
  const auto sequence = py::reinterpret_borrow<py::sequence>(object);
  Dims4 dims{};
  for (std::size_t i = 0; i < 4; ++i) {
    dims[i] = int_arg(fn, sequence[i], name);
    if (dims[i] < 0) {
      throw py::value_error(std::string(fn) + ": " + name +
                            " has a negative size: " + std::string(py::repr(object)));
    }
  }
  return dims;
}

void check_stride(const char* fn, const Pair& stride) {
  if (stride.h < 1 || stride.w < 1) {
    throw py::value_error(std::string(fn) + ": stride must be >= 1, got (" +
                          std::to_string(stride.h) + ", " + std::to_string(stride.w) + ")");
  }
}

void check_padding(const char* fn, const Pair& padding, const Pair& kernel) {
  // Built only on failure: this check runs on every pooling call.
  const auto text = [&] {
    return "(" + std::to_string(padding.h) + ", " + std::to_string(padding.w) + ")";
  };
  if (padding.h < 0 || padding.w < 0) {
    throw py::value_error(std::string(fn) + ": padding must be >= 0, got " + text());
  }
  if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w) {
    throw py::value_error(std::string(fn) + ": padding " + text() +
                          " must be at most half the kernel size (" + std::to_string(kernel.h) +
                          ", " + std::to_string(kernel.w) + ")");
  }
}

std::string dims_text(const Dims4& d) {
  return "(" + std::to_string(d[0]) + ", " + std::to_string(d[1]) + ", " + std::to_string(d[2]) +
         ", " + std::to_string(d[3]) + ")";
}

void check_grad_out(const char* fn, const py::array& grad_out, const Dims4& output) {
  check_ndim(fn, grad_out, "grad_out", 4, "(batch, channels, height, width)");
  if (dims_of(grad_out) != output) {
    throw py::value_error(std::string(fn) + ": grad_out has shape " + shape_of(grad_out) +
                          " but the forward output has shape " + dims_text(output));
  }
}

}  // namespace odyssey::bindings
