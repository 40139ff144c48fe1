// Arrays that a kernel writes while it reads others must not share any memory: a parallel chunk
// could otherwise read what another chunk already wrote (or, for labels, an index out of range).
#pragma once

#include <string>

#include "arrays.h"

namespace odyssey::bindings {

inline bool shares_memory(const py::array& a, const py::array& b) {
  const auto* a_begin = static_cast<const char*>(a.data());
  const auto* b_begin = static_cast<const char*>(b.data());
  return a.nbytes() != 0 && b.nbytes() != 0 && a_begin < b_begin + b.nbytes() &&
         b_begin < a_begin + a.nbytes();
}

// ValueError unless `written` and `other` are disjoint.
inline void check_disjoint(const py::array& written, const char* written_name,
                           const py::array& other, const char* other_name, const char* op) {
  if (shares_memory(written, other)) {
    throw py::value_error(std::string(op) + ": " + written_name + " " + shape_of(written) +
                          " shares memory with " + other_name + " " + shape_of(other) +
                          "; pass separate arrays");
  }
}

}  // namespace odyssey::bindings
