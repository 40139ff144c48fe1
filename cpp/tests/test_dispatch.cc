// ISA names, feature detection consistency and the rules for choosing a variant.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "check.h"
#include "odyssey/eltwise.h"

namespace {

void check_names() {
  for (odyssey::Isa isa : odyssey::kAllIsas) {
    const auto parsed = odyssey::parse_isa(odyssey::isa_name(isa));
    CHECK(parsed.has_value() && *parsed == isa);
  }
  CHECK(!odyssey::parse_isa("sse9").has_value());
  CHECK(!odyssey::parse_isa("AVX2").has_value());
  CHECK(!odyssey::parse_isa("").has_value());
}

void check_available() {
  const auto isas = odyssey::available_isas();
  CHECK(!isas.empty() && isas.front() == odyssey::Isa::kScalar);
  for (odyssey::Isa isa : isas) CHECK(odyssey::is_compiled(isa));
  const odyssey::CpuFeatures& cpu = odyssey::cpu_features();
  CHECK(!cpu.avx512f || cpu.avx2_fma);  // the AVX-512 variant also uses AVX2 and FMA
#if defined(ODYSSEY_HAVE_AVX512)
  const bool has_avx512 = std::find(isas.begin(), isas.end(), odyssey::Isa::kAvx512) != isas.end();
  CHECK(has_avx512 == cpu.avx512f);
#endif
#if defined(ODYSSEY_HAVE_NEON)
  CHECK(isas.back() == odyssey::Isa::kNeon);
#endif
  // With ODYSSEY_ISA unset, the fastest available variant is chosen.
  CHECK(odyssey::selected_isa() == isas.back());
}

void check_select() {
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    CHECK(odyssey::selected_isa() == isa);
    CHECK(odyssey::eltwise_kernels(isa) == &odyssey::eltwise_kernels());
  }
  bool threw = false;
  try {
    odyssey::select_isa("sse9");
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("expected one of: scalar, avx2, avx512, neon") !=
            std::string::npos;
  }
  CHECK(threw);
  const auto isas = odyssey::available_isas();
  for (odyssey::Isa isa : odyssey::kAllIsas) {
    if (std::find(isas.begin(), isas.end(), isa) != isas.end()) continue;
    threw = false;
    try {
      odyssey::select_isa(isa);
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("available here: scalar") != std::string::npos;
    }
    CHECK_NOTE(threw, odyssey::isa_name(isa));
  }
}

}  // namespace

int main() {
  check_names();
  check_available();
  check_select();
  return odyssey::test::finish();
}
