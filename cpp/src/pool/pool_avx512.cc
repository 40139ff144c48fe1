// AVX-512F variant, compiled with -mavx512f -mavx2 -mfma: the pool rows of pool_rows.h on this
// ISA's lanes, 16 outputs per step, and several rows per step for planes narrow enough
// (pool_packed_avx512.h).
#include "odyssey/pool.h"
#include "odyssey/simd/vec_avx512.h"
#include "pool_packed_avx512.h"
#include "pool_rows.h"

namespace odyssey::avx512 {
namespace {

// The row end is one masked step: AVX-512's masked loads and stores are as cheap as plain ones.
struct Tuning {
  static constexpr bool kMaskedTail = true;
};

constexpr PoolKernels kRows = pool_rows::pool_kernels_for<Vec, Tuning>();

void max_2x2_rows(const float* top, std::size_t in_w, std::size_t out_w, std::size_t rows,
                  std::int32_t top_index, bool relu, float* y, std::int32_t* argmax) {
  if (packed::applies(in_w, out_w, rows)) {
    packed::max_2x2_rows(top, in_w, out_w, rows, top_index, relu, y, argmax);
  } else {
    kRows.max_2x2_rows(top, in_w, out_w, rows, top_index, relu, y, argmax);
  }
}

void max_2x2_backward_rows(const float* dy, const std::int32_t* argmax, std::size_t out_w,
                           std::size_t rows, std::int32_t top_index, std::size_t in_w, float* top) {
  if (packed::applies(in_w, out_w, rows)) {
    packed::max_2x2_backward_rows(dy, argmax, out_w, rows, top_index, in_w, top);
  } else {
    kRows.max_2x2_backward_rows(dy, argmax, out_w, rows, top_index, in_w, top);
  }
}

}  // namespace

const PoolKernels kPool{
    .max_2x2_rows = max_2x2_rows,
    .max_2x2_backward_rows = max_2x2_backward_rows,
};

}  // namespace odyssey::avx512
