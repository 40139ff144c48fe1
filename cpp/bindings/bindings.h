// Each kernel family's bindings live in their own file and register on the module here.
#pragma once

#include <pybind11/pybind11.h>

namespace odyssey::bindings {

void bind_runtime(pybind11::module_& m);
void bind_eltwise(pybind11::module_& m);
void bind_augment(pybind11::module_& m);
void bind_activation(pybind11::module_& m);
void bind_softmax(pybind11::module_& m);
void bind_optimizer(pybind11::module_& m);
void bind_conv(pybind11::module_& m);
void bind_pool(pybind11::module_& m);
void bind_norm(pybind11::module_& m);
void bind_gemm(pybind11::module_& m);

}  // namespace odyssey::bindings
