// Instruction-set variants of the kernels and the CPU features that decide which can run.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace odyssey {

// Listed from the reference to the fastest; dispatch prefers the last one the machine can run.
enum class Isa { kScalar, kAvx2, kAvx512, kNeon };

inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon};

const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);
// "scalar, avx2, avx512, neon": for error messages.
std::string all_isa_names();

struct CpuFeatures {
  std::string arch;   // "x86_64", "aarch64" or "other"
  std::string brand;  // the CPU's model string, when it reports one
  // Each flag needs both the CPU instructions and the OS saving the wider registers on a context
  // switch (XCR0 via XGETBV): a CPU with AVX-512 under an OS that does not save ZMM state must not
  // run AVX-512 code.
  bool avx2_fma = false;
  bool avx512f = false;
  bool neon = false;
};

// Detected once, on first call.
const CpuFeatures& cpu_features();

}  // namespace odyssey
