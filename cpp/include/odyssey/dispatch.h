// Run-time choice of the kernel variant: one table of function pointers per compiled ISA.
#pragma once

#include <string_view>
#include <vector>

#include "odyssey/eltwise.h"
#include "odyssey/isa.h"

namespace odyssey {

// Every kernel family's implementation for one ISA.
struct KernelTable {
  Isa isa;
  EltwiseKernels eltwise;
};

// The table of `isa`, or nullptr when this build did not compile that variant.
const KernelTable* compiled_table(Isa isa);

// Variants this build compiled and this machine can run, from the reference to the fastest.
std::vector<Isa> available_isas();

// The table in use. Chosen on first use: ODYSSEY_ISA when set (an unknown name or a variant this
// machine cannot run throws std::invalid_argument), else the fastest available.
const KernelTable& active_kernels();
Isa selected_isa();

// Switches every later kernel call to `isa`; throws std::invalid_argument naming the available
// variants when it cannot run here.
void select_isa(Isa isa);
void select_isa(std::string_view name);

}  // namespace odyssey
