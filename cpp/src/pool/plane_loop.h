// The plane loop of the pooling kernels: planes are independent, so they are split over the thread
// pool in fixed chunks of kPoolGrain, and any split gives the same bits.
#pragma once

#include <cstddef>

#include "odyssey/parallel.h"
#include "odyssey/pool.h"

namespace odyssey {

// body(plane) for every plane, in parallel chunks.
template <typename Body>
void for_each_plane(std::size_t planes, Body body) {
  parallel_for(planes, kPoolGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t plane = begin; plane < end; ++plane) body(plane);
  });
}

}  // namespace odyssey
