// Per-thread scratch memory of the convolution front ends.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace odyssey::conv_scratch {

// A 64-byte aligned float buffer that only grows, so a thread packs every call into the same
// memory.
class ScratchBuffer {
 public:
  float* get(std::size_t floats) {
    if (floats > capacity_) {
      const std::size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      void* memory = std::aligned_alloc(64, bytes);
      if (memory == nullptr) throw std::bad_alloc();
      data_.reset(static_cast<float*>(memory));
      capacity_ = floats;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t capacity_ = 0;
};

}  // namespace odyssey::conv_scratch
