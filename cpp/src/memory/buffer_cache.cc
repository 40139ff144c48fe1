// The tensor buffer cache: free lists by size class behind one mutex. Each block carries its size
// class in a header one alignment unit long, so a release needs nothing but the pointer.
#include "odyssey/buffer_cache.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace odyssey {
namespace {

constexpr std::size_t kHeader = kBufferAlignment;
constexpr std::size_t kDefaultLimit = std::size_t{1} << 30;

std::size_t round_up(std::size_t bytes, std::size_t step) {
  return (bytes + step - 1) / step * step;
}

void* system_block(std::size_t size_class) {
  void* block = std::aligned_alloc(kBufferAlignment, kHeader + size_class);
  if (block != nullptr) *static_cast<std::size_t*>(block) = size_class;
  return block;
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
        return static_cast<char*>(block) + kHeader;
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
    return static_cast<char*>(block) + kHeader;
  }

  void release(void* data) noexcept {
    if (data == nullptr) return;
    void* block = static_cast<char*>(data) - kHeader;
    const std::size_t size_class = *static_cast<std::size_t*>(block);
    {
      const std::lock_guard lock(mutex_);
      stats_.allocated_bytes -= size_class;
      if (stats_.cached_bytes + size_class <= limit_) {
        try {
          free_[size_class].push_back(block);
          stats_.cached_bytes += size_class;
          return;
        } catch (const std::bad_alloc&) {
          // No room to remember the block: give it back instead.
        }
      }
    }
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
