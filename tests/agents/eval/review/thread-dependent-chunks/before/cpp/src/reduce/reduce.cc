// Sums over whole arrays, in parallel chunks reduced in a fixed order.
#include <vector>

#include "odyssey/parallel.h"
#include "odyssey/reduce.h"

namespace odyssey {

// Elements per chunk: fixed, so the chunk boundaries depend on n alone.
constexpr std::size_t kSumGrain = std::size_t{1} << 15;

double sum(const float* x, std::size_t n) {
  const std::size_t chunks = (n + kSumGrain - 1) / kSumGrain;
  std::vector<double> partial(chunks, 0.0);
  parallel_for(chunks, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const std::size_t first = c * kSumGrain, last = std::min(n, first + kSumGrain);
      partial[c] = reduce_kernels().sum(x + first, last - first);
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace odyssey
