// Arrays that a kernel writes while it reads others must not share memory: a parallel chunk could
// otherwise read what another chunk already wrote (or, for labels, an index out of range).
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

// ValueError unless `written` and `read` are disjoint.
inline void check_disjoint(const char* fn, const py::array& written, const char* written_name,
                           const py::array& read, const char* read_name) {
  if (shares_memory(written, read)) {
    throw py::value_error(std::string(fn) + ": " + written_name + " " + shape_of(written) +
                          " shares memory with " + read_name + " " + shape_of(read) +
                          "; pass separate arrays");
  }
}

// The same, except that an elementwise kernel may write over an input of its shape in place.
inline void check_disjoint_or_in_place(const char* fn, const py::array& out, const py::array& input,
                                       const char* input_name) {
  if (shares_memory(out, input) && out.data() != input.data()) {
    throw py::value_error(std::string(fn) + ": out partially overlaps " + input_name +
                          "; pass the input itself as out, or a separate array");
  }
}

}  // namespace odyssey::bindings
