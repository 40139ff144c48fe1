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
  GemmProblem problems[3];
  std::size_t count = 0;
  if (dx != nullptr) {  // dx = g W: (batch x out) (out x in)
    problems[count++] = {Trans::kNo, Trans::kNo, batch, in, out, 1.0f, g, out, w, in,
                         0.0f,       nullptr,    dx,    in};
  }
  if (dw != nullptr) {  // dW = g^T x: (out x batch) (batch x in)
    problems[count++] = {Trans::kYes, Trans::kNo, out, in, batch, 1.0f, g, out, x, in,
                         0.0f,        nullptr,    dw,  in};
  }
  if (db != nullptr) {  // db = g^T 1: (out x batch) (batch x 1)
    problems[count++] = {Trans::kYes, Trans::kNo, out, 1, batch, 1.0f, g, out, ones.data(), 1,
                         0.0f,        nullptr,    db,  1};
  }
  sgemm_many(problems, count);
}

}  // namespace odyssey
