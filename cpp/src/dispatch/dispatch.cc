// Fills one kernel table per compiled ISA and keeps a pointer to the one in use.
#include "odyssey/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace odyssey {
namespace {

const KernelTable kScalarTable{Isa::kScalar, scalar::kEltwise};
#if defined(ODYSSEY_HAVE_AVX2)
const KernelTable kAvx2Table{Isa::kAvx2, avx2::kEltwise};
#endif
#if defined(ODYSSEY_HAVE_AVX512)
const KernelTable kAvx512Table{Isa::kAvx512, avx512::kEltwise};
#endif
#if defined(ODYSSEY_HAVE_NEON)
const KernelTable kNeonTable{Isa::kNeon, neon::kEltwise};
#endif

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

// Throws std::invalid_argument saying why `isa` cannot run here.
const KernelTable& runnable_table(Isa isa) {
  const KernelTable* table = compiled_table(isa);
  if (table == nullptr) {
    throw std::invalid_argument(
        std::string("ISA '") + isa_name(isa) +
        "' is not compiled into this build; available here: " + available_names());
  }
  if (!cpu_can_run(isa)) {
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                                "' is not supported by this " + cpu_features().arch + " CPU (" +
                                cpu_features().brand + "); available here: " + available_names());
  }
  return *table;
}

std::atomic<const KernelTable*> g_active{nullptr};
std::mutex g_select_mutex;

const KernelTable& initial_table() {
  const char* forced = std::getenv("ODYSSEY_ISA");
  if (forced == nullptr || *forced == '\0') return runnable_table(available_isas().back());
  const auto isa = parse_isa(forced);
  if (!isa) {
    throw std::invalid_argument(std::string("ODYSSEY_ISA='") + forced +
                                "' is not a known ISA; expected one of: " + all_isa_names());
  }
  try {
    return runnable_table(*isa);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("ODYSSEY_ISA=") + forced + ": " + e.what());
  }
}

}  // namespace

const KernelTable* compiled_table(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return &kScalarTable;
#if defined(ODYSSEY_HAVE_AVX2)
    case Isa::kAvx2:
      return &kAvx2Table;
#endif
#if defined(ODYSSEY_HAVE_AVX512)
    case Isa::kAvx512:
      return &kAvx512Table;
#endif
#if defined(ODYSSEY_HAVE_NEON)
    case Isa::kNeon:
      return &kNeonTable;
#endif
    default:
      return nullptr;
  }
}

std::vector<Isa> available_isas() {
  std::vector<Isa> isas;
  for (Isa isa : kAllIsas) {
    if (compiled_table(isa) != nullptr && cpu_can_run(isa)) isas.push_back(isa);
  }
  return isas;
}

const KernelTable& active_kernels() {
  const KernelTable* table = g_active.load(std::memory_order_acquire);
  if (table != nullptr) return *table;
  std::lock_guard<std::mutex> lock(g_select_mutex);
  table = g_active.load(std::memory_order_relaxed);
  if (table == nullptr) {
    table = &initial_table();  // throws on a bad ODYSSEY_ISA, leaving nothing selected
    g_active.store(table, std::memory_order_release);
  }
  return *table;
}

Isa selected_isa() { return active_kernels().isa; }

void select_isa(Isa isa) {
  const KernelTable& table = runnable_table(isa);
  std::lock_guard<std::mutex> lock(g_select_mutex);
  g_active.store(&table, std::memory_order_release);
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
