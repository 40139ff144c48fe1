// odyssey._kernels: argument checks and NumPy <-> pointer conversion, nothing else.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "odyssey/buffer_cache.h"
#include "odyssey/build_info.h"
#include "odyssey/dispatch.h"
#include "odyssey/parallel.h"

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "ML Odyssey's compiled kernels (float32, C-contiguous NumPy arrays, no copies).";
  m.attr("__version__") = odyssey::version();

  // Decide the ISA, thread count and buffer cache limit now, so that a bad ODYSSEY_ISA,
  // ODYSSEY_NUM_THREADS or ODYSSEY_BUFFER_CACHE_LIMIT fails the import with its message instead of
  // the first kernel call.
  odyssey::selected_isa();
  odyssey::num_threads();
  odyssey::buffer_cache_stats();

  odyssey::bindings::bind_runtime(m);
  odyssey::bindings::bind_eltwise(m);
  odyssey::bindings::bind_augment(m);
  odyssey::bindings::bind_activation(m);
  odyssey::bindings::bind_softmax(m);
  odyssey::bindings::bind_optimizer(m);
  odyssey::bindings::bind_conv(m);
  odyssey::bindings::bind_pool(m);
  odyssey::bindings::bind_norm(m);
  odyssey::bindings::bind_gemm(m);
}
