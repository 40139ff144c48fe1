// The buffer cache: size classes, alignment, reuse, the limit, counters, and releases from many
// threads at once.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "odyssey/buffer_cache.h"

#if defined(__linux__)
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace {

using odyssey::buffer_allocate;
using odyssey::buffer_cache_stats;
using odyssey::buffer_release;
using odyssey::buffer_size_class;
using odyssey::kBufferAlignment;

void check_size_classes() {
  std::size_t previous = 0;
  for (std::size_t bytes = 0; bytes < (std::size_t{1} << 22); bytes = bytes * 5 / 4 + 1) {
    const std::size_t size_class = buffer_size_class(bytes);
    const std::string note = "bytes " + std::to_string(bytes) + " -> " + std::to_string(size_class);
    CHECK_NOTE(size_class >= bytes && size_class >= kBufferAlignment, note);
    CHECK_NOTE(size_class % kBufferAlignment == 0, note);
    CHECK_NOTE(bytes <= 8 * kBufferAlignment || size_class - bytes <= bytes / 8, note);
    CHECK_NOTE(size_class >= previous, note);
    CHECK_NOTE(buffer_size_class(size_class) == size_class, note);
    previous = size_class;
  }
  bool refused = false;
  try {
    buffer_size_class(~std::size_t{0});
  } catch (const std::bad_alloc&) {
    refused = true;
  }
  CHECK(refused);
}

void check_alignment_and_reuse() {
  odyssey::buffer_cache_clear();
  const auto before = buffer_cache_stats();
  void* first = buffer_allocate(100'000);
  CHECK(reinterpret_cast<std::uintptr_t>(first) % kBufferAlignment == 0);
  std::memset(first, 1, 100'000);  // the whole request is usable
  const std::size_t size_class = buffer_size_class(100'000);
  CHECK(buffer_cache_stats().allocated_bytes == before.allocated_bytes + size_class);
  buffer_release(first);
  CHECK(buffer_cache_stats().cached_bytes == before.cached_bytes + size_class);
  // Another request of the same class gets the same block back, without a system allocation.
  void* second = buffer_allocate(size_class - 7);
  const auto after = buffer_cache_stats();
  CHECK(second == first);
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.system_allocations == before.system_allocations + 1);
  CHECK(after.allocations == before.allocations + 2);
  CHECK(after.cached_bytes == before.cached_bytes);
  void* zero = buffer_allocate(0);
  CHECK(zero != nullptr && reinterpret_cast<std::uintptr_t>(zero) % kBufferAlignment == 0);
  buffer_release(zero);
  buffer_release(second);
  buffer_release(nullptr);
}

void check_peak_and_clear() {
  odyssey::buffer_cache_clear();
  odyssey::buffer_cache_reset_peak();
  const std::size_t start = buffer_cache_stats().allocated_bytes;
  void* a = buffer_allocate(1 << 20);
  void* b = buffer_allocate(1 << 20);
  buffer_release(a);
  buffer_release(b);
  const auto stats = buffer_cache_stats();
  CHECK(stats.peak_allocated_bytes == start + 2 * buffer_size_class(1 << 20));
  CHECK(stats.allocated_bytes == start);
  CHECK(stats.cached_bytes == 2 * buffer_size_class(1 << 20));
  odyssey::buffer_cache_reset_peak();
  CHECK(buffer_cache_stats().peak_allocated_bytes == start);
  odyssey::buffer_cache_clear();
  CHECK(buffer_cache_stats().cached_bytes == 0);
}

void check_limit() {
  odyssey::buffer_cache_clear();
  const std::size_t size_class = buffer_size_class(1 << 16);
  odyssey::set_buffer_cache_limit(size_class);
  CHECK(buffer_cache_stats().cache_limit_bytes == size_class);
  void* a = buffer_allocate(1 << 16);
  void* b = buffer_allocate(1 << 16);
  buffer_release(a);
  buffer_release(b);  // over the limit: back to the system
  CHECK(buffer_cache_stats().cached_bytes == size_class);
  odyssey::set_buffer_cache_limit(0);  // a lowered limit trims at once
  CHECK(buffer_cache_stats().cached_bytes == 0);
  void* c = buffer_allocate(1 << 16);
  buffer_release(c);
  CHECK(buffer_cache_stats().cached_bytes == 0);
  odyssey::set_buffer_cache_limit(odyssey::default_buffer_cache_limit());
}

void check_concurrent_use() {
  odyssey::buffer_cache_clear();
  const std::size_t start = buffer_cache_stats().allocated_bytes;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t bytes = 64 * static_cast<std::size_t>(1 + (i * 7 + t) % 50);
        auto* block = static_cast<unsigned char*>(buffer_allocate(bytes));
        std::memset(block, t, bytes);
        buffer_release(block);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(buffer_cache_stats().allocated_bytes == start);
}

#if defined(__linux__)
// A write just before an array overwrites its block's header: the release aborts (under ASan, the
// poisoned header makes ASan report the write first) instead of filing the block under a wrong
// size class.
void check_overwritten_header_aborts() {
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    // The abort's message is expected here; were /dev/null not to open, it would only show.
    if (std::freopen("/dev/null", "w", stderr) == nullptr) std::perror("freopen");
    auto* data = static_cast<float*>(buffer_allocate(256 * sizeof(float)));
    data[-1] = 1.0f;  // the classic index -1
    data[-2] = 2.0f;
    buffer_release(data);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) ||
        (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}
#endif

}  // namespace

int main() {
  check_size_classes();
  check_alignment_and_reuse();
  check_peak_and_clear();
  check_limit();
  check_concurrent_use();
#if defined(__linux__)
  check_overwritten_header_aborts();
#endif
  return odyssey::test::finish();
}
