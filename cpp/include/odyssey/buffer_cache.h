// A caching allocator for tensor buffers. A training step allocates and frees the same large
// activations and gradients every step; fresh memory from the system costs a page fault per 4 KiB
// on first touch, so freed buffers are kept here, by size class, and the next step's request of
// that class gets one back without a system call. Only buffers made through it are affected: the
// rest of the process's memory (and its malloc settings) is left alone.
#pragma once

#include <cstddef>

namespace odyssey {

// Buffer addresses are multiples of this (a cache line, and a full AVX-512 vector).
inline constexpr std::size_t kBufferAlignment = 64;

// The size a request of `bytes` is served with: a multiple of kBufferAlignment at most 1/8 above
// the request (64 B steps up to 512 B, then eight classes per power of two), so requests of
// similar sizes share blocks and no block wastes more than 12.5 %.
std::size_t buffer_size_class(std::size_t bytes);

// A block of at least `bytes` (0 is allowed), kBufferAlignment-aligned: a cached block of the
// same class when there is one, else new memory (std::bad_alloc when the system has none left).
void* buffer_allocate(std::size_t bytes);

// Gives back a block from buffer_allocate: kept for reuse while the cache holds at most its limit,
// otherwise returned to the system. Safe from any thread.
void buffer_release(void* data) noexcept;

struct BufferCacheStats {
  std::size_t allocated_bytes;       // in live buffers (by size class)
  std::size_t peak_allocated_bytes;  // the most allocated_bytes has been since the last reset
  std::size_t cached_bytes;          // in freed buffers kept for reuse
  std::size_t cache_limit_bytes;     // cached_bytes never exceeds this
  std::size_t allocations;           // buffer_allocate calls
  std::size_t cache_hits;            // of which were served from the cache
  std::size_t system_allocations;    // of which took new memory from the system
};

BufferCacheStats buffer_cache_stats();

// Returns every cached block to the system (live buffers are untouched).
void buffer_cache_clear();

// Starts peak_allocated_bytes again from allocated_bytes.
void buffer_cache_reset_peak();

// Sets the most the cache keeps (0 keeps nothing: every release goes back to the system);
// blocks above a lowered limit are returned at once.
void set_buffer_cache_limit(std::size_t bytes);

// 1 GiB unless ODYSSEY_BUFFER_CACHE_LIMIT (bytes; a non-negative integer, else the first use
// throws std::invalid_argument) says otherwise.
std::size_t default_buffer_cache_limit();

}  // namespace odyssey
