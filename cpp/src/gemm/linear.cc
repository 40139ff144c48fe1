// A Linear layer's backward pass as one parallel job of three products (odyssey/gemm.h).
#include <vector>

#include "odyssey/activation.h"
#include "odyssey/gemm.h"

namespace odyssey {

void linear_backward(const float* dy, const float* x, const float* w, const float* relu_out,
                     std::size_t batch, std::size_t in, std::size_t out, float* dx, float* dw,
                     float* db) {
  std::vector<float> masked;
  const float* g = dy;
  if (relu_out != nullptr && batch * out > 0) {
    masked.resize(batch * out);
    relu_backward(dy, relu_out, masked.data(), batch * out);
    g = masked.data();
  }
  const std::vector<float> ones(db != nullptr ? batch : 0, 1.0f);
  // C (m x n) = op(A) B with op(A) = A or A^T, alpha 1, beta 0, no bias.
  const auto product = [](Trans trans_a, std::size_t m, std::size_t n, std::size_t k,
                          const float* a, std::size_t lda, const float* b, float* c) {
    return GemmProblem{trans_a, Trans::kNo, m, n, k, 1.0f, a, lda, b, n, 0.0f, nullptr, c, n};
  };
  GemmProblem problems[3];
  std::size_t count = 0;
  // dx = g W: (batch x out) (out x in)
  if (dx != nullptr) problems[count++] = product(Trans::kNo, batch, in, out, g, out, w, dx);
  // dW = g^T x: (out x batch) (batch x in)
  if (dw != nullptr) problems[count++] = product(Trans::kYes, out, in, batch, g, out, x, dw);
  // db = g^T 1: (out x batch) (batch x 1)
  if (db != nullptr)
    problems[count++] = product(Trans::kYes, out, 1, batch, g, out, ones.data(), db);
  sgemm_many(problems, count);
}

}  // namespace odyssey
