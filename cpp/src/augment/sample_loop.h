// The parallel loop over the samples of a batch that every augmentation front end uses.
#pragma once

#include <algorithm>
#include <cstddef>

#include "odyssey/parallel.h"

namespace odyssey::augment_loop {

// About this many floats of images per parallel chunk (twenty 28 x 28 digits): enough work to
// outweigh waking a thread. Fixed by the batch shape alone, never by the thread count.
constexpr std::size_t kChunkFloats = std::size_t{1} << 14;

inline std::size_t samples_per_chunk(std::size_t image_floats) {
  return std::max<std::size_t>(1, kChunkFloats / std::max<std::size_t>(1, image_floats));
}

// Calls chunk(begin, end) over the pool for fixed chunks of [0, count). Images of no floats leave
// nothing to write, however many there are.
template <typename Chunk>
void for_each_chunk(std::size_t count, std::size_t image_floats, const Chunk& chunk) {
  if (image_floats == 0) return;
  parallel_for(count, samples_per_chunk(image_floats), chunk);
}

// Calls body(i) for every sample i of [0, count) over the pool.
template <typename Body>
void for_each_sample(std::size_t count, std::size_t image_floats, const Body& body) {
  for_each_chunk(count, image_floats, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) body(i);
  });
}

}  // namespace odyssey::augment_loop
