// Which ISA variants are compiled and runnable, and which one is in use.
#include "odyssey/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace odyssey {
namespace {

bool cpu_can_run(Isa isa) {
  const CpuFeatures& cpu = cpu_features();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return cpu.avx2_fma;
    case Isa::kAvx512:
      return cpu.avx512f;
    case Isa::kNeon:
      return cpu.neon;
  }
  return false;
}

std::string available_names() {
  std::string names;
  for (Isa isa : available_isas()) names += std::string(names.empty() ? "" : ", ") + isa_name(isa);
  return names;
}

// `isa`, or std::invalid_argument saying why it cannot run here.
Isa runnable(Isa isa) {
  if (!is_compiled(isa)) {
    throw std::invalid_argument(
        std::string("ISA '") + isa_name(isa) +
        "' is not compiled into this build; available here: " + available_names());
  }
  if (!cpu_can_run(isa)) {
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                                "' is not supported by this " + cpu_features().arch + " CPU (" +
                                cpu_features().brand + "); available here: " + available_names());
  }
  return isa;
}

constexpr int kUnset = -1;
std::atomic<int> g_selected{kUnset};
std::mutex g_select_mutex;

Isa initial_isa() {
  const char* forced = std::getenv("ODYSSEY_ISA");
  if (forced == nullptr || *forced == '\0') return available_isas().back();
  const auto isa = parse_isa(forced);
  if (!isa) {
    throw std::invalid_argument(std::string("ODYSSEY_ISA='") + forced +
                                "' is not a known ISA; expected one of: " + all_isa_names());
  }
  try {
    return runnable(*isa);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("ODYSSEY_ISA=") + forced + ": " + e.what());
  }
}

}  // namespace

bool is_compiled(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
#if defined(ODYSSEY_HAVE_AVX2)
      return true;
#else
      return false;
#endif
    case Isa::kAvx512:
#if defined(ODYSSEY_HAVE_AVX512)
      return true;
#else
      return false;
#endif
    case Isa::kNeon:
#if defined(ODYSSEY_HAVE_NEON)
      return true;
#else
      return false;
#endif
  }
  return false;
}

std::vector<Isa> available_isas() {
  std::vector<Isa> isas;
  for (Isa isa : kAllIsas) {
    if (is_compiled(isa) && cpu_can_run(isa)) isas.push_back(isa);
  }
  return isas;
}

Isa selected_isa() {
  int selected = g_selected.load(std::memory_order_acquire);
  if (selected != kUnset) return static_cast<Isa>(selected);
  std::lock_guard<std::mutex> lock(g_select_mutex);
  selected = g_selected.load(std::memory_order_relaxed);
  if (selected == kUnset) {
    selected = static_cast<int>(initial_isa());  // throws on a bad ODYSSEY_ISA, selecting nothing
    g_selected.store(selected, std::memory_order_release);
  }
  return static_cast<Isa>(selected);
}

void select_isa(Isa isa) {
  runnable(isa);
  std::lock_guard<std::mutex> lock(g_select_mutex);
  g_selected.store(static_cast<int>(isa), std::memory_order_release);
}

void select_isa(std::string_view name) {
  const auto isa = parse_isa(name);
  if (!isa) {
    throw std::invalid_argument("unknown ISA '" + std::string(name) +
                                "'; expected one of: " + all_isa_names());
  }
  select_isa(*isa);
}

}  // namespace odyssey
