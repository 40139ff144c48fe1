// The tensor buffer cache: free lists by size class behind one mutex. Each block carries its size
// class in a header one alignment unit long, so a release needs nothing but the pointer; the header
// also holds a check value, and a release whose header was overwritten (a write before an array)
// aborts instead of filing the block under a wrong class. Under AddressSanitizer the header, the
// slack past each request and every cached block are poisoned, and a block handed out is filled
// with NaNs, so the sanitize session still sees overruns, use after release and unwritten outputs.
#include "odyssey/buffer_cache.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "odyssey/sanitizers.h"

#if defined(ODYSSEY_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace odyssey {
namespace {

constexpr std::size_t kHeader = kBufferAlignment;
constexpr std::size_t kDefaultLimit = std::size_t{1} << 30;
constexpr std::size_t kCheck = 0x6f64797373657921;  // "odyssey!"

struct Header {
  std::size_t size_class;
  std::size_t check;  // size_class ^ kCheck
};
static_assert(sizeof(Header) <= kHeader);

// The header sits right before the data, where a write before the array lands first.
void* header_of(void* block) { return static_cast<char*>(block) + kHeader - sizeof(Header); }

#if defined(ODYSSEY_ASAN)
void poison(void* p, std::size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
void unpoison(void* p, std::size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }
constexpr bool kSanitized = true;
#else
void poison(void*, std::size_t) {}
void unpoison(void*, std::size_t) {}
constexpr bool kSanitized = false;
#endif

std::size_t round_up(std::size_t bytes, std::size_t step) {
  return (bytes + step - 1) / step * step;
}

void* system_block(std::size_t size_class) {
  return std::aligned_alloc(kBufferAlignment, kHeader + size_class);
}

// The data of `block` for a request of `bytes`: the header written, and under ASan the header and
// the slack poisoned and the data filled with NaNs (0xFF bytes).
void* hand_out(void* block, std::size_t size_class, std::size_t bytes) {
  unpoison(block, kHeader + size_class);
  const Header header{size_class, size_class ^ kCheck};
  std::memcpy(header_of(block), &header, sizeof header);
  char* const data = static_cast<char*>(block) + kHeader;
  if constexpr (kSanitized) {
    std::memset(data, 0xFF, bytes);
    poison(block, kHeader);
    poison(data + bytes, size_class - bytes);
  }
  return data;
}

// The size class of the block holding `data`; aborts when its header was overwritten.
std::size_t checked_size_class(void* block) {
  unpoison(block, kHeader);
  Header header;
  std::memcpy(&header, header_of(block), sizeof header);
  if ((header.size_class ^ kCheck) != header.check) {
    std::fprintf(stderr,
                 "odyssey: a tensor buffer's header was overwritten (a write before the start of "
                 "an array); aborting rather than reusing the memory\n");
    std::abort();
  }
  return header.size_class;
}

class BufferCache {
 public:
  BufferCache() : limit_(default_buffer_cache_limit()) {}

  void* allocate(std::size_t bytes) {
    const std::size_t size_class = buffer_size_class(bytes);
    {
      const std::lock_guard lock(mutex_);
      ++stats_.allocations;
      auto found = free_.find(size_class);
      if (found != free_.end() && !found->second.empty()) {
        void* block = found->second.back();
        found->second.pop_back();
        stats_.cached_bytes -= size_class;
        ++stats_.cache_hits;
        count_allocated(size_class);
        return hand_out(block, size_class, bytes);
      }
    }
    void* block = system_block(size_class);
    if (block == nullptr) {
      // Cached blocks of other classes may be what the system is missing.
      clear();
      block = system_block(size_class);
      if (block == nullptr) throw std::bad_alloc();
    }
    const std::lock_guard lock(mutex_);
    ++stats_.system_allocations;
    count_allocated(size_class);
    return hand_out(block, size_class, bytes);
  }

  void release(void* data) noexcept {
    if (data == nullptr) return;
    void* block = static_cast<char*>(data) - kHeader;
    const std::size_t size_class = checked_size_class(block);
    {
      const std::lock_guard lock(mutex_);
      stats_.allocated_bytes -= size_class;
      if (stats_.cached_bytes + size_class <= limit_) {
        try {
          free_[size_class].push_back(block);
          stats_.cached_bytes += size_class;
          poison(block, kHeader + size_class);
          return;
        } catch (const std::bad_alloc&) {
          // No room to remember the block: give it back instead.
        }
      }
    }
    unpoison(block, kHeader + size_class);
    std::free(block);
  }

  BufferCacheStats stats() {
    const std::lock_guard lock(mutex_);
    BufferCacheStats result = stats_;
    result.cache_limit_bytes = limit_;
    return result;
  }

  void clear() { trim_to(0); }

  void reset_peak() {
    const std::lock_guard lock(mutex_);
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

  void set_limit(std::size_t bytes) {
    {
      const std::lock_guard lock(mutex_);
      limit_ = bytes;
    }
    trim_to(bytes);
  }

 private:
  // Call with mutex_ held.
  void count_allocated(std::size_t size_class) {
    stats_.allocated_bytes += size_class;
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) {
      stats_.peak_allocated_bytes = stats_.allocated_bytes;
    }
  }

  // Frees cached blocks, largest classes first, until at most `bytes` stay cached.
  void trim_to(std::size_t bytes) {
    std::vector<void*> released;
    {
      const std::lock_guard lock(mutex_);
      std::vector<std::size_t> classes;
      for (const auto& [size_class, blocks] : free_) {
        if (!blocks.empty()) classes.push_back(size_class);
      }
      std::sort(classes.begin(), classes.end(), std::greater<>());
      for (std::size_t size_class : classes) {
        auto& blocks = free_[size_class];
        while (!blocks.empty() && stats_.cached_bytes > bytes) {
          released.push_back(blocks.back());
          unpoison(blocks.back(), kHeader + size_class);
          blocks.pop_back();
          stats_.cached_bytes -= size_class;
        }
      }
    }
    for (void* block : released) std::free(block);
  }

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  BufferCacheStats stats_{};
  std::size_t limit_;
};

// Never destroyed: arrays freed while the interpreter shuts down, after static destructors have
// run, still release into it.
BufferCache& cache() {
  static BufferCache* const instance = new BufferCache();
  return *instance;
}

}  // namespace

std::size_t buffer_size_class(std::size_t bytes) {
  if (bytes > std::numeric_limits<std::size_t>::max() / 2) throw std::bad_alloc();
  if (bytes <= 8 * kBufferAlignment)
    return round_up(std::max<std::size_t>(bytes, 1), kBufferAlignment);
  return round_up(bytes, std::bit_floor(bytes) / 8);
}

void* buffer_allocate(std::size_t bytes) { return cache().allocate(bytes); }

void buffer_release(void* data) noexcept { cache().release(data); }

BufferCacheStats buffer_cache_stats() { return cache().stats(); }

void buffer_cache_clear() { cache().clear(); }

void buffer_cache_reset_peak() { cache().reset_peak(); }

void set_buffer_cache_limit(std::size_t bytes) { cache().set_limit(bytes); }

std::size_t default_buffer_cache_limit() {
  const char* text = std::getenv("ODYSSEY_BUFFER_CACHE_LIMIT");
  if (text == nullptr || *text == '\0') return kDefaultLimit;
  const std::string value(text);
  std::size_t parsed = 0;
  std::size_t used = 0;
  try {
    if (value.find_first_not_of("0123456789") == std::string::npos)
      parsed = std::stoull(value, &used);
  } catch (const std::out_of_range&) {
    used = 0;
  }
  if (used == 0 || used != value.size()) {
    throw std::invalid_argument("ODYSSEY_BUFFER_CACHE_LIMIT='" + value +
                                "' is not a byte count; expected an integer >= 0, or unset it for "
                                "1 GiB");
  }
  return parsed;
}

}  // namespace odyssey
