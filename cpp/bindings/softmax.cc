// Softmax, log-softmax and the fused softmax-cross-entropy over the last axis of 2-D arrays.
#include "odyssey/softmax.h"

#include <cstdint>
#include <string>

#include "arrays.h"
#include "bindings.h"
#include "overlap.h"

namespace odyssey::bindings {
namespace {

using RowsOp = void (*)(const float*, float*, std::size_t, std::size_t);
using RowsBackward = void (*)(const float*, const float*, float*, std::size_t, std::size_t);

// A float32 (rows, cols) array, or ValueError naming `op` and `name`.
py::array matrix(const py::object& object, const char* op, const char* name) {
  py::array array = float32_array(op, object, name);
  check_ndim(op, array, name, 2, "(rows, cols) with the classes on the last axis");
  return array;
}

std::size_t rows(const py::array& a) { return static_cast<std::size_t>(a.shape(0)); }
std::size_t cols(const py::array& a) { return static_cast<std::size_t>(a.shape(1)); }

py::array forward(RowsOp op, const char* name, const py::object& x_object,
                  const py::object& out_object) {
  const py::array x = matrix(x_object, name, "x");
  py::array out = output_for(name, out_object, x, {{&x, "x"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(x), out_data, rows(x), cols(x));
  }
  return out;
}

py::array backward(RowsBackward op, const char* name, const py::object& grad_object,
                   const py::object& y_object, const py::object& out_object) {
  const py::array grad = matrix(grad_object, name, "grad_out");
  const py::array y = matrix(y_object, name, "y");
  check_same_shape(name, grad, "grad_out", y, "y");
  py::array out = output_for(name, out_object, grad, {{&grad, "grad_out"}, {&y, "y"}});
  float* out_data = mutable_floats(out);
  {
    py::gil_scoped_release release;
    op(floats(grad), floats(y), out_data, rows(y), cols(y));
  }
  return out;
}

// int64 labels of shape (rows,), each in [0, classes); ValueError names the first bad label and its
// row.
py::array labels_for(const py::object& object, const py::array& scores, const char* op,
                     const char* scores_name) {
  const py::array labels = array_of<std::int64_t>(op, object, "labels");
  if (labels.ndim() != 1 || labels.shape(0) != scores.shape(0)) {
    throw py::value_error(std::string(op) + ": labels must have shape (" +
                          std::to_string(scores.shape(0)) + ",), one per row of " + scores_name +
                          " " + shape_of(scores) + ", got " + shape_of(labels));
  }
  const auto* values = static_cast<const std::int64_t*>(labels.data());
  const auto classes = static_cast<std::int64_t>(scores.shape(1));
  for (py::ssize_t r = 0; r < labels.shape(0); ++r) {
    if (values[r] < 0 || values[r] >= classes) {
      throw py::value_error(std::string(op) + ": label " + std::to_string(values[r]) + " in row " +
                            std::to_string(r) + " is out of range for " + std::to_string(classes) +
                            " classes (" + scores_name + " " + shape_of(scores) + ")");
    }
  }
  return labels;
}

const std::int64_t* label_data(const py::array& labels) {
  return static_cast<const std::int64_t*>(labels.data());
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def(
      "softmax",
      [](const py::object& x, const py::object& out) {
        return forward(&odyssey::softmax, "softmax", x, out);
      },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "Softmax over the last axis of a 2-D array, shifted by each row's max.");
  m.def(
      "softmax_backward",
      [](const py::object& grad_out, const py::object& y, const py::object& out) {
        return backward(&odyssey::softmax_backward, "softmax_backward", grad_out, y, out);
      },
      py::arg("grad_out"), py::arg("y"), py::kw_only(), py::arg("out") = py::none(),
      "y * (grad_out - sum(grad_out * y, axis=1)), y the softmax output.");
  m.def(
      "log_softmax",
      [](const py::object& x, const py::object& out) {
        return forward(&odyssey::log_softmax, "log_softmax", x, out);
      },
      py::arg("x"), py::kw_only(), py::arg("out") = py::none(),
      "x - max - log(sum(exp(x - max))) over the last axis of a 2-D array.");
  m.def(
      "log_softmax_backward",
      [](const py::object& grad_out, const py::object& y, const py::object& out) {
        return backward(&odyssey::log_softmax_backward, "log_softmax_backward", grad_out, y, out);
      },
      py::arg("grad_out"), py::arg("y"), py::kw_only(), py::arg("out") = py::none(),
      "grad_out - exp(y) * sum(grad_out, axis=1), y the log-softmax output.");
  m.def(
      "softmax_cross_entropy",
      [](const py::object& logits_object, const py::object& labels_object) {
        const py::array logits = matrix(logits_object, "softmax_cross_entropy", "logits");
        const py::array labels =
            labels_for(labels_object, logits, "softmax_cross_entropy", "logits");
        py::array probs = new_array<float>({logits.shape(0), logits.shape(1)});
        float* probs_data = mutable_floats(probs);
        double loss = 0.0;
        {
          py::gil_scoped_release release;
          loss = odyssey::softmax_cross_entropy(floats(logits), label_data(labels), probs_data,
                                                rows(logits), cols(logits));
        }
        return py::make_tuple(loss, probs);
      },
      py::arg("logits"), py::arg("labels"),
      "(mean cross-entropy loss, softmax probabilities) of logits (N, C) and int64 labels (N,).");
  m.def(
      "softmax_cross_entropy_backward",
      [](const py::object& probs_object, const py::object& labels_object, float scale,
         const py::object& out_object) {
        const py::array probs = matrix(probs_object, "softmax_cross_entropy_backward", "probs");
        const py::array labels =
            labels_for(labels_object, probs, "softmax_cross_entropy_backward", "probs");
        constexpr const char* fn = "softmax_cross_entropy_backward";
        py::array out = output_for(fn, out_object, probs, {{&probs, "probs"}});
        check_disjoint(fn, out, "out", labels, "labels");
        float* out_data = mutable_floats(out);
        {
          py::gil_scoped_release release;
          odyssey::softmax_cross_entropy_backward(floats(probs), label_data(labels), scale,
                                                  out_data, rows(probs), cols(probs));
        }
        return out;
      },
      py::arg("probs"), py::arg("labels"), py::arg("scale"), py::kw_only(),
      py::arg("out") = py::none(),
      "(probs - onehot(labels)) * scale; scale = grad_loss / N for the mean loss.");
}

}  // namespace odyssey::bindings
