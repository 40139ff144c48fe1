// What was detected and chosen (CPU, ISA, threads, build), and the switches for ISA and threads.
#include <pybind11/stl.h>

#include <string_view>
#include <vector>

#include "bindings.h"
#include "odyssey/buffer_cache.h"
#include "odyssey/build_info.h"
#include "odyssey/dispatch.h"
#include "odyssey/float_controls.h"
#include "odyssey/parallel.h"

namespace odyssey::bindings {
namespace {

namespace py = pybind11;

py::list isa_names(const std::vector<odyssey::Isa>& isas) {
  py::list names;
  for (odyssey::Isa isa : isas) names.append(odyssey::isa_name(isa));
  return names;
}

py::dict cpu_info() {
  const odyssey::CpuFeatures& cpu = odyssey::cpu_features();
  std::vector<odyssey::Isa> compiled;
  for (odyssey::Isa isa : odyssey::kAllIsas) {
    if (odyssey::is_compiled(isa)) compiled.push_back(isa);
  }
  py::dict features;
  features["avx2_fma"] = cpu.avx2_fma;
  features["avx512f"] = cpu.avx512f;
  features["neon"] = cpu.neon;

  py::dict info;
  info["version"] = odyssey::version();
  info["arch"] = cpu.arch;
  info["cpu"] = cpu.brand;
  info["features"] = features;
  info["isa_compiled"] = isa_names(compiled);
  info["isa_available"] = isa_names(odyssey::available_isas());
  info["isa_selected"] = odyssey::isa_name(odyssey::selected_isa());
  info["threads"] = odyssey::num_threads();
  info["compiler"] = odyssey::compiler();
  info["build_type"] = odyssey::build_type();
  return info;
}

py::dict buffer_cache_stats() {
  const odyssey::BufferCacheStats stats = odyssey::buffer_cache_stats();
  py::dict result;
  result["allocated_bytes"] = stats.allocated_bytes;
  result["peak_allocated_bytes"] = stats.peak_allocated_bytes;
  result["cached_bytes"] = stats.cached_bytes;
  result["cache_limit_bytes"] = stats.cache_limit_bytes;
  result["allocations"] = stats.allocations;
  result["cache_hits"] = stats.cache_hits;
  result["system_allocations"] = stats.system_allocations;
  return result;
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.def("cpu_info", &cpu_info,
        "What was detected and chosen: CPU features, ISA variants, threads, build.");
  m.def("set_isa", py::overload_cast<std::string_view>(&odyssey::select_isa), py::arg("name"),
        "Use ISA variant `name` (scalar, avx2, avx512, neon) for every later kernel call.");
  m.def("get_num_threads", &odyssey::num_threads, "Threads that parallel kernels use.");
  m.def("set_num_threads", &odyssey::set_num_threads, py::arg("n"),
        "Start n threads (1 <= n <= MAX_THREADS) for parallel kernels; RuntimeError, keeping the "
        "previous count, when the system cannot start them. Results are bitwise the same for "
        "every n.");
  m.attr("MAX_THREADS") = odyssey::kMaxThreads;
  m.def("set_flush_denormal", &odyssey::set_flush_denormal, py::arg("mode"),
        "Flush subnormal floats to zero (True) or not on the calling thread; kernels follow it on "
        "every pool thread. False, changing nothing, where the CPU has no such mode.");
  m.def("float_controls", &odyssey::float_controls,
        "The calling thread's floating-point control bits (rounding, flush-to-zero).");
  m.def("set_float_controls", &odyssey::set_float_controls, py::arg("controls"),
        "Sets the calling thread's floating-point control bits to a value float_controls() read.");
  m.def("buffer_cache_stats", &buffer_cache_stats,
        "The tensor buffer cache's counters: bytes allocated (now and at the peak), cached and the "
        "cache's limit; allocations, cache hits and system allocations.");
  m.def("buffer_cache_clear", &odyssey::buffer_cache_clear,
        "Returns every cached (freed) tensor buffer to the system.");
  m.def("buffer_cache_reset_peak", &odyssey::buffer_cache_reset_peak,
        "Starts the peak of allocated bytes again from the bytes allocated now.");
  m.def("set_buffer_cache_limit", &odyssey::set_buffer_cache_limit, py::arg("bytes"),
        "Keeps at most `bytes` of freed tensor buffers for reuse (0: none).");
}

}  // namespace odyssey::bindings
