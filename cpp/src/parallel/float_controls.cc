// Reading and writing the thread's floating-point control register.
#include "odyssey/float_controls.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace odyssey {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// MXCSR bits 0-5 are sticky exception flags, not controls.
constexpr std::uint64_t kControlBits = 0xFFC0;
constexpr std::uint64_t kFlushBits = (1u << 15) | (1u << 6);  // FTZ, DAZ
#elif defined(__aarch64__)
constexpr std::uint64_t kFlushBits = std::uint64_t{1} << 24;  // FPCR.FZ
#endif

}  // namespace

std::uint64_t float_controls() {
#if defined(__x86_64__) || defined(__i386__)
  return _mm_getcsr() & kControlBits;
#elif defined(__aarch64__)
  std::uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
#else
  return 0;
#endif
}

void set_float_controls(std::uint64_t controls) {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(static_cast<unsigned>((_mm_getcsr() & ~kControlBits) | (controls & kControlBits)));
#elif defined(__aarch64__)
  __asm__ volatile("msr fpcr, %0" : : "r"(controls));
#else
  (void)controls;
#endif
}

bool set_flush_denormal(bool flush) {
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
  const std::uint64_t controls = float_controls();
  set_float_controls(flush ? controls | kFlushBits : controls & ~kFlushBits);
  return true;
#else
  (void)flush;
  return false;
#endif
}

}  // namespace odyssey
