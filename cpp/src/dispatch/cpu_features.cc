// CPU feature detection: CPUID plus XGETBV on x86-64; NEON is part of the AArch64 baseline.
#include <cstdint>
#include <cstring>
#include <string>

#include "odyssey/isa.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace odyssey {
namespace {

// Helpers below are used on some platforms only.
[[maybe_unused]] std::string trim(std::string s) {
  const auto first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(' ');
  return s.substr(first, last - first + 1);
}

#if defined(__APPLE__)
[[maybe_unused]] bool sysctl_flag(const char* name) {
  int value = 0;
  std::size_t size = sizeof(value);
  return sysctlbyname(name, &value, &size, nullptr, 0) == 0 && value != 0;
}

[[maybe_unused]] std::string sysctl_string(const char* name) {
  char buffer[256] = {};
  std::size_t size = sizeof(buffer) - 1;
  if (sysctlbyname(name, buffer, &size, nullptr, 0) != 0) return "";
  return trim(buffer);
}
#endif

#if defined(__x86_64__) || defined(_M_X64)
// XCR0: which register states the OS saves on a context switch. Read with inline assembly so this
// baseline translation unit needs no -mxsave.
std::uint64_t read_xcr0() {
  std::uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (std::uint64_t{edx} << 32) | eax;
}

std::string cpuid_brand() {
  unsigned regs[12] = {};
  if (__get_cpuid_max(0x80000000u, nullptr) < 0x80000004u) return "";
  for (unsigned i = 0; i < 3; ++i) {
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                &regs[4 * i + 3]);
  }
  char text[sizeof(regs) + 1] = {};
  std::memcpy(text, regs, sizeof(regs));
  return trim(text);
}

CpuFeatures detect() {
  CpuFeatures features;
  features.arch = "x86_64";
  features.brand = cpuid_brand();
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return features;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool fma = ecx & (1u << 12);
  const std::uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_saves_ymm = (xcr0 & 0x6) == 0x6;  // SSE and AVX state
  bool os_saves_zmm = (xcr0 & 0xe6) == 0xe6;      // plus opmask, ZMM0-15 high, ZMM16-31
#if defined(__APPLE__)
  // macOS enables AVX-512 state lazily, on first use, so XCR0 does not show it yet.
  os_saves_zmm = os_saves_zmm || sysctl_flag("hw.optional.avx512f");
#endif
  bool avx2 = false, avx512f = false;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    avx2 = ebx & (1u << 5);
    avx512f = ebx & (1u << 16);
  }
  features.avx2_fma = avx && avx2 && fma && os_saves_ymm;
  features.avx512f = features.avx2_fma && avx512f && os_saves_zmm;
  return features;
}
#elif defined(__aarch64__) || defined(_M_ARM64)
CpuFeatures detect() {
  CpuFeatures features;
  features.arch = "aarch64";
  features.neon = true;
#if defined(__APPLE__)
  features.brand = sysctl_string("machdep.cpu.brand_string");
#endif
  return features;
}
#else
CpuFeatures detect() {
  CpuFeatures features;
  features.arch = "other";
  return features;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace odyssey
