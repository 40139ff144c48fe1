// Whole-array elementwise operations: the selected ISA's kernels over fixed-size parallel chunks.
#include "odyssey/eltwise.h"

#include <vector>

#include "odyssey/dispatch.h"
#include "odyssey/parallel.h"

namespace odyssey {
namespace {

using Binary = void (*)(const float*, const float*, float*, std::size_t);
using Unary = void (*)(const float*, float*, std::size_t);

void run_binary(Binary kernel, const float* a, const float* b, float* out, std::size_t n) {
  parallel_for(n, kEltwiseGrain, [&](std::size_t begin, std::size_t end) {
    kernel(a + begin, b + begin, out + begin, end - begin);
  });
}

void run_unary(Unary kernel, const float* x, float* out, std::size_t n) {
  parallel_for(n, kEltwiseGrain, [&](std::size_t begin, std::size_t end) {
    kernel(x + begin, out + begin, end - begin);
  });
}

}  // namespace

const EltwiseKernels* eltwise_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(EltwiseKernels, kEltwise);
  return kTables.get(isa);
}

void add(const float* a, const float* b, float* out, std::size_t n) {
  run_binary(eltwise_kernels().add, a, b, out, n);
}

void mul(const float* a, const float* b, float* out, std::size_t n) {
  run_binary(eltwise_kernels().mul, a, b, out, n);
}

void relu(const float* x, float* out, std::size_t n) {
  run_unary(eltwise_kernels().relu, x, out, n);
}

float sum(const float* x, std::size_t n) {
  const auto kernel = eltwise_kernels().sum;
  std::vector<double> partials(num_chunks(n, kEltwiseGrain));
  parallel_for(n, kEltwiseGrain, [&](std::size_t begin, std::size_t end) {
    partials[begin / kEltwiseGrain] = kernel(x + begin, end - begin);
  });
  double total = 0.0;
  for (double partial : partials) total += partial;
  return static_cast<float>(total);
}

}  // namespace odyssey
