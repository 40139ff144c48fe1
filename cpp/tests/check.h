// A minimal test harness: CHECK records failures with their location, and finish() prints the
// "N passed, N failed" summary line and gives the exit code for ctest.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "odyssey/dispatch.h"

namespace odyssey::test {

inline int g_passed = 0;
inline int g_failed = 0;

inline void check(bool ok, const char* expr, const char* file, int line, const std::string& note) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  std::fprintf(stderr, "%s:%d: CHECK(%s) failed %s\n", file, line, expr, note.c_str());
}

inline int finish() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

// Every SIMD variant this build compiled and this CPU can run (the scalar reference excluded).
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kScalar) isas.push_back(isa);
  }
  return isas;
}

}  // namespace odyssey::test

#define CHECK(expr) ::odyssey::test::check(static_cast<bool>(expr), #expr, __FILE__, __LINE__, "")
#define CHECK_NOTE(expr, note) \
  ::odyssey::test::check(static_cast<bool>(expr), #expr, __FILE__, __LINE__, note)
