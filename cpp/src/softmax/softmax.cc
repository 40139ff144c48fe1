// Softmax, log-softmax and softmax-cross-entropy over rows: the selected ISA's row kernels in
// parallel chunks of whole rows.
#include "odyssey/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "odyssey/parallel.h"

namespace odyssey {
namespace {

// Calls row_body(r) for every row, in chunks of rows whose size depends on cols alone. Rows of no
// columns leave nothing to write, however many there are.
template <class RowBody>
void for_rows(std::size_t rows, std::size_t cols, const RowBody& row_body) {
  if (cols == 0) return;
  const std::size_t grain = cols >= kSoftmaxGrain ? 1 : kSoftmaxGrain / cols;
  parallel_for(rows, grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) row_body(r);
  });
}

}  // namespace

const SoftmaxKernels* softmax_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(SoftmaxKernels, kSoftmax);
  return kTables.get(isa);
}

void softmax(const float* x, float* y, std::size_t rows, std::size_t cols) {
  if (cols == 0) return;
  const SoftmaxKernels& k = softmax_kernels();
  for_rows(rows, cols, [&](std::size_t r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    const double total = k.exp_sum(in, k.max(in, cols), out, cols);
    k.scale(out, static_cast<float>(1.0 / total), out, cols);
  });
}

void softmax_backward(const float* grad_y, const float* y, float* grad_x, std::size_t rows,
                      std::size_t cols) {
  if (cols == 0) return;
  const SoftmaxKernels& k = softmax_kernels();
  for_rows(rows, cols, [&](std::size_t r) {
    const std::size_t at = r * cols;
    const float dot = static_cast<float>(k.dot(grad_y + at, y + at, cols));
    k.softmax_backward(grad_y + at, y + at, dot, grad_x + at, cols);
  });
}

void log_softmax(const float* x, float* y, std::size_t rows, std::size_t cols) {
  if (cols == 0) return;
  const SoftmaxKernels& k = softmax_kernels();
  for_rows(rows, cols, [&](std::size_t r) {
    const float* in = x + r * cols;
    const float max = k.max(in, cols);
    const float log_total = static_cast<float>(std::log(k.exp_sum(in, max, nullptr, cols)));
    k.subtract2(in, max, log_total, y + r * cols, cols);
  });
}

void log_softmax_backward(const float* grad_y, const float* y, float* grad_x, std::size_t rows,
                          std::size_t cols) {
  if (cols == 0) return;
  const SoftmaxKernels& k = softmax_kernels();
  for_rows(rows, cols, [&](std::size_t r) {
    const std::size_t at = r * cols;
    const float total = static_cast<float>(k.sum(grad_y + at, cols));
    k.log_softmax_backward(grad_y + at, y + at, total, grad_x + at, cols);
  });
}

double softmax_cross_entropy(const float* logits, const std::int64_t* labels, float* probs,
                             std::size_t rows, std::size_t cols) {
  if (rows == 0) return std::numeric_limits<double>::quiet_NaN();
  const SoftmaxKernels& k = softmax_kernels();
  std::vector<double> losses(rows);
  for_rows(rows, cols, [&](std::size_t r) {
    const float* in = logits + r * cols;
    float* out = probs + r * cols;
    const float max = k.max(in, cols);
    const double total = k.exp_sum(in, max, out, cols);
    k.scale(out, static_cast<float>(1.0 / total), out, cols);
    // Labels were checked by the caller, but another thread may change them while the GIL is
    // released: a bad one gives a NaN loss, never an access out of bounds (negative ones wrap).
    const auto label = static_cast<std::size_t>(labels[r]);
    losses[r] = label < cols ? std::log(total) - (static_cast<double>(in[label]) - max)
                             : std::numeric_limits<double>::quiet_NaN();
  });
  double sum = 0.0;
  for (double loss : losses) sum += loss;
  return sum / static_cast<double>(rows);
}

void softmax_cross_entropy_backward(const float* probs, const std::int64_t* labels, float scale,
                                    float* grad, std::size_t rows, std::size_t cols) {
  const SoftmaxKernels& k = softmax_kernels();
  for_rows(rows, cols, [&](std::size_t r) {
    const std::size_t at = r * cols;
    const auto label = static_cast<std::size_t>(labels[r]);
    if (label >= cols) {  // changed by another thread after the caller's check
      for (std::size_t c = 0; c < cols; ++c) grad[at + c] = std::numeric_limits<float>::quiet_NaN();
      return;
    }
    const float p = probs[at + label];  // read before grad, which may be probs, overwrites it
    k.scale(probs + at, scale, grad + at, cols);
    grad[at + label] = (p - 1.0f) * scale;
  });
}

}  // namespace odyssey
