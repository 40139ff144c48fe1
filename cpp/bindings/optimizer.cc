// Fused, in-place SGD, Adam/AdamW, RMSprop and Adagrad steps with torch.optim's formulas. The
// options are the optimizers' to check (odyssey.optim); here only what keeps memory safe: arrays
// and the buffer.
#include "odyssey/optimizer.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "arrays.h"
#include "bindings.h"
#include "overlap.h"

namespace odyssey::bindings {
namespace {

// A float32 array the step updates in place: writable, shaped like param.
py::array state_array(const char* fn, const py::object& object, const char* name,
                      const py::array* param) {
  py::array array = float32_array(fn, object, name);
  check_writeable(fn, array, name);
  if (param != nullptr) check_same_shape(fn, *param, "param", array, name);
  return array;
}

// Every array written in place must be disjoint from every other array of the step.
void check_all_disjoint(const char* fn,
                        const std::vector<std::pair<const py::array*, const char*>>& written,
                        const std::vector<std::pair<const py::array*, const char*>>& all) {
  for (const auto& [w, w_name] : written) {
    for (const auto& [a, a_name] : all) {
      if (w != a) check_disjoint(fn, *w, w_name, *a, a_name);
    }
  }
}

void sgd_step(const py::object& param_object, const py::object& grad_object,
              const py::object& buffer_object, double lr, double momentum, double dampening,
              double weight_decay, bool nesterov, bool first_step) {
  constexpr const char* fn = "sgd_step";
  py::array param = state_array(fn, param_object, "param", nullptr);
  const py::array grad = float32_array(fn, grad_object, "grad");
  check_same_shape(fn, param, "param", grad, "grad");
  py::array buffer;
  float* buffer_data = nullptr;
  if (momentum != 0.0) {
    if (buffer_object.is_none()) {
      throw py::value_error("sgd_step: momentum " + std::to_string(momentum) +
                            " needs a momentum_buffer shaped like param " + shape_of(param));
    }
    buffer = state_array(fn, buffer_object, "momentum_buffer", &param);
    check_all_disjoint(fn, {{&param, "param"}, {&buffer, "momentum_buffer"}},
                       {{&param, "param"}, {&grad, "grad"}, {&buffer, "momentum_buffer"}});
    buffer_data = mutable_floats(buffer);
  } else {
    check_all_disjoint(fn, {{&param, "param"}}, {{&grad, "grad"}});
  }
  const SgdOptions options{lr, momentum, dampening, weight_decay, nesterov, first_step};
  float* param_data = mutable_floats(param);
  py::gil_scoped_release release;
  odyssey::sgd_step(param_data, floats(grad), buffer_data, options, length(param));
}

void adam_step(const py::object& param_object, const py::object& grad_object,
               const py::object& exp_avg_object, const py::object& exp_avg_sq_object,
               long long step, double lr, double beta1, double beta2, double eps,
               double weight_decay, bool decoupled_weight_decay,
               const py::object& max_exp_avg_sq_object) {
  constexpr const char* fn = "adam_step";
  py::array param = state_array(fn, param_object, "param", nullptr);
  const py::array grad = float32_array(fn, grad_object, "grad");
  check_same_shape(fn, param, "param", grad, "grad");
  py::array exp_avg = state_array(fn, exp_avg_object, "exp_avg", &param);
  py::array exp_avg_sq = state_array(fn, exp_avg_sq_object, "exp_avg_sq", &param);
  std::vector<std::pair<const py::array*, const char*>> written = {
      {&param, "param"}, {&exp_avg, "exp_avg"}, {&exp_avg_sq, "exp_avg_sq"}};
  py::array max_exp_avg_sq;
  float* max_data = nullptr;
  if (!max_exp_avg_sq_object.is_none()) {
    max_exp_avg_sq = state_array(fn, max_exp_avg_sq_object, "max_exp_avg_sq", &param);
    written.emplace_back(&max_exp_avg_sq, "max_exp_avg_sq");
    max_data = mutable_floats(max_exp_avg_sq);
  }
  auto all = written;
  all.emplace_back(&grad, "grad");
  check_all_disjoint(fn, written, all);
  const AdamOptions options{step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay};
  float* param_data = mutable_floats(param);
  float* exp_avg_data = mutable_floats(exp_avg);
  float* exp_avg_sq_data = mutable_floats(exp_avg_sq);
  py::gil_scoped_release release;
  odyssey::adam_step(param_data, floats(grad), exp_avg_data, exp_avg_sq_data, max_data, options,
                     length(param));
}

void rmsprop_step(const py::object& param_object, const py::object& grad_object,
                  const py::object& square_avg_object, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bool centered,
                  const py::object& grad_avg_object, const py::object& buffer_object) {
  constexpr const char* fn = "rmsprop_step";
  py::array param = state_array(fn, param_object, "param", nullptr);
  const py::array grad = float32_array(fn, grad_object, "grad");
  check_same_shape(fn, param, "param", grad, "grad");
  py::array square_avg = state_array(fn, square_avg_object, "square_avg", &param);
  std::vector<std::pair<const py::array*, const char*>> written = {{&param, "param"},
                                                                   {&square_avg, "square_avg"}};
  py::array grad_avg;
  float* grad_avg_data = nullptr;
  if (centered) {
    if (grad_avg_object.is_none()) {
      throw py::value_error("rmsprop_step: centered needs a grad_avg shaped like param " +
                            shape_of(param));
    }
    grad_avg = state_array(fn, grad_avg_object, "grad_avg", &param);
    written.emplace_back(&grad_avg, "grad_avg");
    grad_avg_data = mutable_floats(grad_avg);
  }
  py::array buffer;
  float* buffer_data = nullptr;
  if (momentum != 0.0) {
    if (buffer_object.is_none()) {
      throw py::value_error("rmsprop_step: momentum " + std::to_string(momentum) +
                            " needs a momentum_buffer shaped like param " + shape_of(param));
    }
    buffer = state_array(fn, buffer_object, "momentum_buffer", &param);
    written.emplace_back(&buffer, "momentum_buffer");
    buffer_data = mutable_floats(buffer);
  }
  auto all = written;
  all.emplace_back(&grad, "grad");
  check_all_disjoint(fn, written, all);
  RmspropOptions options;
  options.lr = lr;
  options.alpha = alpha;
  options.eps = eps;
  options.weight_decay = weight_decay;
  options.momentum = momentum;
  options.centered = centered;
  float* param_data = mutable_floats(param);
  float* square_avg_data = mutable_floats(square_avg);
  py::gil_scoped_release release;
  odyssey::rmsprop_step(param_data, floats(grad), square_avg_data, grad_avg_data, buffer_data,
                        options, length(param));
}

void adagrad_step(const py::object& param_object, const py::object& grad_object,
                  const py::object& sum_object, long long step, double lr, double lr_decay,
                  double weight_decay, double eps) {
  constexpr const char* fn = "adagrad_step";
  if (step < 1)
    throw py::value_error("adagrad_step: step counts from 1, got " + std::to_string(step));
  py::array param = state_array(fn, param_object, "param", nullptr);
  const py::array grad = float32_array(fn, grad_object, "grad");
  check_same_shape(fn, param, "param", grad, "grad");
  py::array sum = state_array(fn, sum_object, "sum", &param);
  check_all_disjoint(fn, {{&param, "param"}, {&sum, "sum"}},
                     {{&param, "param"}, {&grad, "grad"}, {&sum, "sum"}});
  AdagradOptions options;
  options.step = step;
  options.lr = lr;
  options.lr_decay = lr_decay;
  options.weight_decay = weight_decay;
  options.eps = eps;
  float* param_data = mutable_floats(param);
  float* sum_data = mutable_floats(sum);
  py::gil_scoped_release release;
  odyssey::adagrad_step(param_data, floats(grad), sum_data, options, length(param));
}

// The arrays of a sequence argument of a multi-tensor step, as many as `count`.
std::vector<py::object> items_of(const char* fn, const py::object& object, const char* name,
                                 std::size_t count) {
  if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object)) {
    throw py::type_error(std::string(fn) + ": " + name + " must be a sequence, got " +
                         std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  const auto sequence = py::reinterpret_borrow<py::sequence>(object);
  if (sequence.size() != count) {
    throw py::value_error(std::string(fn) + ": " + name + " has " +
                          std::to_string(sequence.size()) + " items but params has " +
                          std::to_string(count));
  }
  std::vector<py::object> items;
  items.reserve(count);
  for (std::size_t i = 0; i < count; ++i) items.push_back(sequence[i]);
  return items;
}

// A bool of a per-tensor list, or an error naming it.
bool bool_item(const char* fn, const py::object& item, const char* name) {
  if (!py::isinstance<py::bool_>(item)) {
    throw py::type_error(std::string(fn) + ": " + name + " must be a bool, got " +
                         std::string(py::str(py::type::of(item).attr("__name__"))));
  }
  return item.cast<bool>();
}

// An integer >= 1 (a step count: Python's or NumPy's) of a per-tensor list, or an error naming it.
long long step_item(const char* fn, const py::object& item, const char* name) {
  // Held for the life of the process: a static py::object would be released after the
  // interpreter is gone.
  static const py::handle integral =
      py::object(py::module_::import("numbers").attr("Integral")).release();
  if (py::isinstance<py::bool_>(item) || !py::isinstance(item, integral)) {
    throw py::type_error(std::string(fn) + ": " + name + " must be an int, got " +
                         std::string(py::str(py::type::of(item).attr("__name__"))));
  }
  const long long step = item.cast<long long>();
  if (step < 1) {
    throw py::value_error(std::string(fn) + ": " + name + " must be >= 1, got " +
                          std::to_string(step));
  }
  return step;
}

std::size_t count_of(const char* fn, const py::object& params) {
  if (!py::isinstance<py::sequence>(params) || py::isinstance<py::str>(params)) {
    throw py::type_error(std::string(fn) + ": params must be a sequence of arrays, got " +
                         std::string(py::str(py::type::of(params).attr("__name__"))));
  }
  return py::len(params);
}

// "params[3]": an item's name for the checks, which read it only on the way to an error, so it
// is built on the stack. With std::string, allocating and formatting three or five names per
// tensor cost about as much as the rest of a multi-tensor step's checks.
class ItemName {
 public:
  ItemName(const char* name, std::size_t i) {
    const std::size_t length = std::min(std::strlen(name), sizeof text_ - 24);
    std::memcpy(text_, name, length);
    char* end = text_ + length;
    *end++ = '[';
    end = std::to_chars(end, text_ + sizeof text_ - 2, i).ptr;
    *end++ = ']';
    *end = '\0';
  }
  const char* c_str() const { return text_; }

 private:
  char text_[48];
};

ItemName item_name(const char* name, std::size_t i) { return ItemName(name, i); }

// Every argument is checked as sgd_step checks it before any array changes, so an error leaves
// all parameters as they were.
void sgd_step_many(const py::object& params_object, const py::object& grads_object,
                   const py::object& buffers_object, double lr, double momentum, double dampening,
                   double weight_decay, bool nesterov, const py::object& first_steps_object) {
  constexpr const char* fn = "sgd_step_many";
  const std::size_t count = count_of(fn, params_object);
  const auto param_items = items_of(fn, params_object, "params", count);
  const auto grad_items = items_of(fn, grads_object, "grads", count);
  const bool use_buffers = momentum != 0.0;
  if (use_buffers && buffers_object.is_none()) {
    throw py::value_error("sgd_step_many: momentum " + std::to_string(momentum) +
                          " needs momentum_buffers, one shaped like each param");
  }
  std::vector<py::object> buffer_items;
  std::vector<py::object> first_items;
  if (use_buffers) {
    buffer_items = items_of(fn, buffers_object, "momentum_buffers", count);
    first_items = items_of(fn, first_steps_object, "first_steps", count);
  }
  std::vector<py::array> arrays;  // keeps every array alive while the GIL is released
  arrays.reserve(3 * count);
  std::vector<SgdTensor> tensors(count);
  for (std::size_t i = 0; i < count; ++i) {
    const ItemName param_name = item_name("params", i);
    const ItemName grad_name = item_name("grads", i);
    py::array param = state_array(fn, param_items[i], param_name.c_str(), nullptr);
    const py::array grad = float32_array(fn, grad_items[i], grad_name.c_str());
    check_same_shape(fn, param, param_name.c_str(), grad, grad_name.c_str());
    SgdTensor& t = tensors[i];
    t.n = length(param);
    t.grad = floats(grad);
    t.momentum_buffer = nullptr;
    t.first_step = true;
    if (use_buffers) {
      const ItemName buffer_name = item_name("momentum_buffers", i);
      py::array buffer = state_array(fn, buffer_items[i], buffer_name.c_str(), &param);
      // check_all_disjoint's pairs in its order, without building its two vectors per tensor
      // (buffer against param is param against buffer).
      check_disjoint(fn, param, param_name.c_str(), grad, grad_name.c_str());
      check_disjoint(fn, param, param_name.c_str(), buffer, buffer_name.c_str());
      check_disjoint(fn, buffer, buffer_name.c_str(), grad, grad_name.c_str());
      t.momentum_buffer = mutable_floats(buffer);
      t.first_step = bool_item(fn, first_items[i], item_name("first_steps", i).c_str());
      arrays.push_back(std::move(buffer));
    } else {
      check_disjoint(fn, param, param_name.c_str(), grad, grad_name.c_str());
    }
    t.param = mutable_floats(param);
    arrays.push_back(std::move(param));
    arrays.push_back(grad);
  }
  // first_step is each tensor's (SgdTensor::first_step).
  const SgdOptions options{lr, momentum, dampening, weight_decay, nesterov, true};
  py::gil_scoped_release release;
  odyssey::sgd_step_many(tensors.data(), count, options);
}

void adam_step_many(const py::object& params_object, const py::object& grads_object,
                    const py::object& exp_avgs_object, const py::object& exp_avg_sqs_object,
                    const py::object& steps_object, double lr, double beta1, double beta2,
                    double eps, double weight_decay, bool decoupled_weight_decay,
                    const py::object& max_exp_avg_sqs_object) {
  constexpr const char* fn = "adam_step_many";
  const std::size_t count = count_of(fn, params_object);
  const auto param_items = items_of(fn, params_object, "params", count);
  const auto grad_items = items_of(fn, grads_object, "grads", count);
  const auto exp_avg_items = items_of(fn, exp_avgs_object, "exp_avgs", count);
  const auto exp_avg_sq_items = items_of(fn, exp_avg_sqs_object, "exp_avg_sqs", count);
  const auto step_items = items_of(fn, steps_object, "steps", count);
  const bool amsgrad = !max_exp_avg_sqs_object.is_none();
  std::vector<py::object> max_items;
  if (amsgrad) max_items = items_of(fn, max_exp_avg_sqs_object, "max_exp_avg_sqs", count);
  std::vector<py::array> arrays;  // keeps every array alive while the GIL is released
  arrays.reserve(5 * count);
  std::vector<AdamTensor> tensors(count);
  for (std::size_t i = 0; i < count; ++i) {
    const ItemName param_name = item_name("params", i);
    const ItemName grad_name = item_name("grads", i);
    const ItemName exp_avg_name = item_name("exp_avgs", i);
    const ItemName exp_avg_sq_name = item_name("exp_avg_sqs", i);
    const ItemName max_name = item_name("max_exp_avg_sqs", i);
    py::array param = state_array(fn, param_items[i], param_name.c_str(), nullptr);
    const py::array grad = float32_array(fn, grad_items[i], grad_name.c_str());
    check_same_shape(fn, param, param_name.c_str(), grad, grad_name.c_str());
    py::array exp_avg = state_array(fn, exp_avg_items[i], exp_avg_name.c_str(), &param);
    py::array exp_avg_sq = state_array(fn, exp_avg_sq_items[i], exp_avg_sq_name.c_str(), &param);
    std::vector<std::pair<const py::array*, const char*>> written = {
        {&param, param_name.c_str()},
        {&exp_avg, exp_avg_name.c_str()},
        {&exp_avg_sq, exp_avg_sq_name.c_str()}};
    py::array max_exp_avg_sq;
    AdamTensor& t = tensors[i];
    t.max_exp_avg_sq = nullptr;
    if (amsgrad) {
      max_exp_avg_sq = state_array(fn, max_items[i], max_name.c_str(), &param);
      written.emplace_back(&max_exp_avg_sq, max_name.c_str());
      t.max_exp_avg_sq = mutable_floats(max_exp_avg_sq);
    }
    auto all = written;
    all.emplace_back(&grad, grad_name.c_str());
    check_all_disjoint(fn, written, all);
    t.param = mutable_floats(param);
    t.grad = floats(grad);
    t.exp_avg = mutable_floats(exp_avg);
    t.exp_avg_sq = mutable_floats(exp_avg_sq);
    t.n = length(param);
    t.step = step_item(fn, step_items[i], item_name("steps", i).c_str());
    arrays.push_back(std::move(param));
    arrays.push_back(grad);
    arrays.push_back(std::move(exp_avg));
    arrays.push_back(std::move(exp_avg_sq));
    if (amsgrad) arrays.push_back(std::move(max_exp_avg_sq));
  }
  // step is each tensor's (AdamTensor::step).
  const AdamOptions options{1, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay};
  py::gil_scoped_release release;
  odyssey::adam_step_many(tensors.data(), count, options);
}

}  // namespace

void bind_optimizer(py::module_& m) {
  m.def("sgd_step", &sgd_step, py::arg("param"), py::arg("grad"),
        py::arg("momentum_buffer") = py::none(), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("nesterov") = false, py::arg("first_step") = true,
        "One torch.optim.SGD step in place on param (and momentum_buffer, required when "
        "momentum != 0; first_step sets it to the gradient).");
  m.def("adam_step", &adam_step, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::kw_only(), py::arg("step"), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("weight_decay") = 0.0,
        py::arg("decoupled_weight_decay") = false, py::arg("max_exp_avg_sq") = py::none(),
        "One torch.optim.Adam step in place (AdamW with decoupled_weight_decay, AMSGrad when "
        "max_exp_avg_sq is given); step counts from 1.");
  m.def("rmsprop_step", &rmsprop_step, py::arg("param"), py::arg("grad"), py::arg("square_avg"),
        py::kw_only(), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
        py::arg("weight_decay") = 0.0, py::arg("momentum") = 0.0, py::arg("centered") = false,
        py::arg("grad_avg") = py::none(), py::arg("momentum_buffer") = py::none(),
        "One torch.optim.RMSprop step in place on param and square_avg (and grad_avg, required "
        "when centered; momentum_buffer, required when momentum != 0).");
  m.def("sgd_step_many", &sgd_step_many, py::arg("params"), py::arg("grads"),
        py::arg("momentum_buffers") = py::none(), py::kw_only(), py::arg("lr"),
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("weight_decay") = 0.0,
        py::arg("nesterov") = false, py::arg("first_steps") = py::none(),
        "sgd_step on each (param, grad, momentum_buffer, first_step) in order, in one call: "
        "the same bits; every array checked before any changes (momentum_buffers and "
        "first_steps required when momentum != 0).");
  m.def("adam_step_many", &adam_step_many, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
        py::arg("exp_avg_sqs"), py::kw_only(), py::arg("steps"), py::arg("lr"), py::arg("beta1"),
        py::arg("beta2"), py::arg("eps"), py::arg("weight_decay") = 0.0,
        py::arg("decoupled_weight_decay") = false, py::arg("max_exp_avg_sqs") = py::none(),
        "adam_step on each parameter with its own step count, in order, in one call: the same "
        "bits; every array checked before any changes.");
  m.def("adagrad_step", &adagrad_step, py::arg("param"), py::arg("grad"), py::arg("sum"),
        py::kw_only(), py::arg("step"), py::arg("lr"), py::arg("lr_decay") = 0.0,
        py::arg("weight_decay") = 0.0, py::arg("eps") = 1e-10,
        "One torch.optim.Adagrad step in place on param and sum; step counts from 1 (the "
        "learning rate is lr / (1 + (step - 1) lr_decay)).");
}

}  // namespace odyssey::bindings
