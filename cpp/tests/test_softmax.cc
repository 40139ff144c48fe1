// Softmax, log-softmax and softmax-cross-entropy on every compiled and runnable SIMD variant
// against the scalar reference (selected through the dispatcher, so the front end's row loop is
// covered): odd row lengths, misaligned rows, logits of +-1e4, in place, and thread-count
// determinism. Tolerance: |simd - ref| <= 1e-6 |ref| + 1e-7, the row sums being accumulated in
// another order and exp being a polynomial; the mean loss within 1e-6 relative.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "address_invariance.h"
#include "check.h"
#include "float_buffers.h"
#include "odyssey/parallel.h"
#include "odyssey/softmax.h"

namespace {

using odyssey::test::Buffer;
using odyssey::test::mismatch;
using odyssey::test::same_bits;

constexpr double kRel = 1e-6;
constexpr double kAbs = 1e-7;

struct Results {
  std::vector<float> softmax, softmax_grad, log_softmax, log_softmax_grad, probs, ce_grad;
  double loss = 0.0;
  // The size of the terms each gradient element is computed from: y (|g| + sum |g y|) and
  // |g| + exp(y) sum |g|. Where they cancel, the error is relative to these, not to the result.
  std::vector<double> softmax_grad_scale, log_softmax_grad_scale;
};

Results run_all(const std::vector<float>& x, const std::vector<float>& g,
                const std::vector<std::int64_t>& labels, std::size_t rows, std::size_t cols,
                std::size_t offset) {
  const std::size_t n = rows * cols;
  Results r;
  Buffer in(x, offset), grad(g, offset), out(std::vector<float>(n), offset);
  odyssey::softmax(in.data(), out.data(), rows, cols);
  r.softmax = out.values();
  Buffer y(r.softmax, offset);
  odyssey::softmax_backward(grad.data(), y.data(), out.data(), rows, cols);
  r.softmax_grad = out.values();
  odyssey::log_softmax(in.data(), out.data(), rows, cols);
  r.log_softmax = out.values();
  Buffer log_y(r.log_softmax, offset);
  odyssey::log_softmax_backward(grad.data(), log_y.data(), out.data(), rows, cols);
  r.log_softmax_grad = out.values();
  r.loss = odyssey::softmax_cross_entropy(in.data(), labels.data(), out.data(), rows, cols);
  r.probs = out.values();
  odyssey::softmax_cross_entropy_backward(out.data(), labels.data(), 0.25f, out.data(), rows, cols);
  r.ce_grad = out.values();
  CHECK_NOTE(out.guard_intact() && in.guard_intact(), "wrote past the end");
  for (std::size_t row = 0; row < rows; ++row) {
    double dot = 0.0, sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) {
      dot += std::fabs(static_cast<double>(g[row * cols + c]) * r.softmax[row * cols + c]);
      sum += std::fabs(g[row * cols + c]);
    }
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t i = row * cols + c;
      r.softmax_grad_scale.push_back(r.softmax[i] * (std::fabs(g[i]) + dot));
      r.log_softmax_grad_scale.push_back(std::fabs(g[i]) + std::exp(r.log_softmax[i]) * sum);
    }
  }
  return r;
}

void compare(const Results& want, const Results& got, const std::string& where) {
  const std::vector<double> relative_to_result;
  const struct {
    const char* name;
    const std::vector<float>& want;
    const std::vector<float>& got;
    const std::vector<double>& scale;
  } arrays[] = {{"softmax", want.softmax, got.softmax, relative_to_result},
                {"softmax_backward", want.softmax_grad, got.softmax_grad, want.softmax_grad_scale},
                {"log_softmax", want.log_softmax, got.log_softmax, relative_to_result},
                {"log_softmax_backward", want.log_softmax_grad, got.log_softmax_grad,
                 want.log_softmax_grad_scale},
                {"cross_entropy probs", want.probs, got.probs, relative_to_result},
                {"cross_entropy backward", want.ce_grad, got.ce_grad, relative_to_result}};
  for (const auto& a : arrays) {
    const std::string bad = mismatch(a.want, a.got, kRel, kAbs, a.scale);
    CHECK_NOTE(bad.empty(), std::string(a.name) + " " + where + " " + bad);
  }
  CHECK_NOTE(
      std::fabs(want.loss - got.loss) <= 1e-6 * std::fabs(want.loss) + 1e-7,
      "loss " + where + " want " + std::to_string(want.loss) + " got " + std::to_string(got.loss));
}

std::vector<std::int64_t> labels_for(std::size_t rows, std::size_t cols) {
  std::vector<std::int64_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<std::int64_t>((r * 7 + 3) % cols);
  return labels;
}

void check_variants() {
  const std::size_t kRows = 5;
  for (std::size_t cols : odyssey::test::kOddSizes) {
    for (float spread : {1.0f, 30.0f, 1e4f}) {
      const std::vector<float> x = odyssey::test::normal_floats(kRows * cols, spread, 3);
      const std::vector<float> g = odyssey::test::normal_floats(kRows * cols, 1.0f, 4);
      const std::vector<std::int64_t> labels = labels_for(kRows, cols);
      for (std::size_t offset = 0; offset <= odyssey::test::kMaxOffset; ++offset) {
        odyssey::select_isa(odyssey::Isa::kScalar);
        const Results want = run_all(x, g, labels, kRows, cols, offset);
        CHECK_NOTE(std::isfinite(want.loss), "scalar loss finite cols=" + std::to_string(cols));
        for (odyssey::Isa isa : odyssey::test::simd_isas()) {
          odyssey::select_isa(isa);
          const std::string where =
              std::string(odyssey::isa_name(isa)) + " cols=" + std::to_string(cols) +
              " spread=" + std::to_string(spread) + " offset=" + std::to_string(offset);
          compare(want, run_all(x, g, labels, kRows, cols, offset), where);
        }
      }
    }
  }
}

void check_in_place() {
  const std::size_t rows = 3, cols = 37;
  const std::vector<float> x = odyssey::test::normal_floats(rows * cols, 5.0f, 8);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    std::vector<float> separate(x.size()), same = x;
    odyssey::softmax(x.data(), separate.data(), rows, cols);
    odyssey::softmax(same.data(), same.data(), rows, cols);
    CHECK_NOTE(same_bits(separate, same),
               std::string("softmax in place ") + odyssey::isa_name(isa));
    same = x;
    odyssey::log_softmax(x.data(), separate.data(), rows, cols);
    odyssey::log_softmax(same.data(), same.data(), rows, cols);
    CHECK_NOTE(same_bits(separate, same),
               std::string("log_softmax in place ") + odyssey::isa_name(isa));
  }
}

void check_threads() {
  const std::size_t rows = 4099, cols = 10;
  const std::vector<float> x = odyssey::test::normal_floats(rows * cols, 3.0f, 11);
  const std::vector<std::int64_t> labels = labels_for(rows, cols);
  for (odyssey::Isa isa : odyssey::available_isas()) {
    odyssey::select_isa(isa);
    std::vector<float> first;
    double first_loss = 0.0;
    for (int threads : {1, 2, 3, 8}) {
      odyssey::set_num_threads(threads);
      std::vector<float> probs(x.size());
      const double loss =
          odyssey::softmax_cross_entropy(x.data(), labels.data(), probs.data(), rows, cols);
      if (first.empty()) {
        first = probs;
        first_loss = loss;
      }
      CHECK_NOTE(same_bits(first, probs) && loss == first_loss,
                 std::string("threads ") + odyssey::isa_name(isa) + " " + std::to_string(threads));
    }
  }
}

// The bindings reject bad labels; the kernels must still stay in bounds if one slips through.
void check_bad_label_gives_nan() {
  const std::size_t rows = 2, cols = 3;
  const std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const std::vector<std::int64_t> labels = {-1, 3};
  std::vector<float> probs(rows * cols), grad(rows * cols);
  const double loss =
      odyssey::softmax_cross_entropy(x.data(), labels.data(), probs.data(), rows, cols);
  odyssey::softmax_cross_entropy_backward(probs.data(), labels.data(), 1.0f, grad.data(), rows,
                                          cols);
  bool all_nan = true;
  for (float g : grad) all_nan = all_nan && std::isnan(g);
  CHECK(std::isnan(loss));
  CHECK(all_nan);
}

void check_address_invariance() {
  using odyssey::test::check_address_invariance;
  for (auto [rows, cols] : {std::pair<std::size_t, std::size_t>{64, 10}, {5, 1037}}) {
    const std::size_t n = rows * cols;
    const std::string shape = " " + std::to_string(rows) + "x" + std::to_string(cols);
    const std::vector<float> x = odyssey::test::normal_floats(n, 3.0f, 21);
    const std::vector<float> g = odyssey::test::normal_floats(n, 1.0f, 22);
    const std::vector<float> out(n, 0.0f);
    std::vector<float> y(n), log_y(n);
    odyssey::softmax(x.data(), y.data(), rows, cols);
    odyssey::log_softmax(x.data(), log_y.data(), rows, cols);
    std::vector<std::int64_t> labels(rows);
    for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<std::int64_t>(r * 7 % cols);
    check_address_invariance("softmax" + shape, {x, out},
                             [&](float* const* b) { odyssey::softmax(b[0], b[1], rows, cols); });
    check_address_invariance("softmax_backward" + shape, {g, y, out}, [&](float* const* b) {
      odyssey::softmax_backward(b[0], b[1], b[2], rows, cols);
    });
    check_address_invariance("log_softmax" + shape, {x, out}, [&](float* const* b) {
      odyssey::log_softmax(b[0], b[1], rows, cols);
    });
    check_address_invariance("log_softmax_backward" + shape, {g, log_y, out}, [&](float* const* b) {
      odyssey::log_softmax_backward(b[0], b[1], b[2], rows, cols);
    });
    check_address_invariance("softmax_cross_entropy" + shape, {x, out}, [&](float* const* b) {
      return odyssey::softmax_cross_entropy(b[0], labels.data(), b[1], rows, cols);
    });
    check_address_invariance(
        "softmax_cross_entropy_backward" + shape, {y, out}, [&](float* const* b) {
          odyssey::softmax_cross_entropy_backward(b[0], labels.data(), 0.25f, b[1], rows, cols);
        });
  }
}

}  // namespace

int main() {
  check_bad_label_gives_nan();
  check_variants();
  check_in_place();
  check_threads();
  check_address_invariance();
  return odyssey::test::finish();
}
