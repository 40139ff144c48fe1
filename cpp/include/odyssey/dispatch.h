// Run-time choice of the kernel variant. Each kernel family defines one table of function pointers
// per compiled ISA (scalar::kEltwise, avx2::kEltwise, ...) and looks the selected one up through
// IsaTables, so families stay independent of each other and of this file.
#pragma once

#include <string_view>
#include <vector>

#include "odyssey/isa.h"

namespace odyssey {

// Whether this build compiled the variant `isa`.
bool is_compiled(Isa isa);

// Variants this build compiled and this machine can run, from the reference to the fastest.
std::vector<Isa> available_isas();

// The variant in use. Chosen on first use: ODYSSEY_ISA when set (an unknown name or a variant this
// machine cannot run throws std::invalid_argument), else the fastest available.
Isa selected_isa();

// Switches every later kernel call to `isa`; throws std::invalid_argument naming the available
// variants when it cannot run here.
void select_isa(Isa isa);
void select_isa(std::string_view name);

// One kernel family's tables, nullptr for a variant this build did not compile.
template <class Kernels>
struct IsaTables {
  const Kernels* scalar;
  const Kernels* avx2;
  const Kernels* avx512;
  const Kernels* neon;

  const Kernels* get(Isa isa) const {
    switch (isa) {
      case Isa::kScalar:
        return scalar;
      case Isa::kAvx2:
        return avx2;
      case Isa::kAvx512:
        return avx512;
      case Isa::kNeon:
        return neon;
    }
    return nullptr;
  }
};

}  // namespace odyssey

#if defined(ODYSSEY_HAVE_AVX2)
#define ODYSSEY_IF_AVX2(table) (&(table))
#else
#define ODYSSEY_IF_AVX2(table) nullptr
#endif
#if defined(ODYSSEY_HAVE_AVX512)
#define ODYSSEY_IF_AVX512(table) (&(table))
#else
#define ODYSSEY_IF_AVX512(table) nullptr
#endif
#if defined(ODYSSEY_HAVE_NEON)
#define ODYSSEY_IF_NEON(table) (&(table))
#else
#define ODYSSEY_IF_NEON(table) nullptr
#endif

// The IsaTables of the per-ISA tables named `name` (odyssey::scalar::name, odyssey::avx2::name,
// ...).
#define ODYSSEY_ISA_TABLES(Kernels, name)                                                  \
  ::odyssey::IsaTables<Kernels> {                                                          \
    &::odyssey::scalar::name, ODYSSEY_IF_AVX2(::odyssey::avx2::name),                      \
        ODYSSEY_IF_AVX512(::odyssey::avx512::name), ODYSSEY_IF_NEON(::odyssey::neon::name) \
  }
