// AVX2+FMA micro-kernel, a 6 x 16 register tile: 12 ymm accumulators, 2 for the row of B and one
// broadcast of A fill 15 of the 16 registers. The tile is gemm_tile.h's, on this ISA's lanes.
#include "gemm_dot.h"
#include "gemm_tile.h"
#include "odyssey/gemm.h"
#include "odyssey/simd/vec_avx2.h"

namespace odyssey::avx2 {
namespace {

constexpr int kMr = 6;
constexpr int kNv = 2;  // vectors per row of the tile

}  // namespace

const GemmKernels kGemm{.mr = kMr,
                        .nr = kNv * Vec::kLanes,
                        .tile = gemm_simd::micro_kernel<Vec, kMr, kNv>,
                        .pack_transposed = nullptr,
                        .pack_copy = nullptr,
                        .dot_rows = gemm_dot::dot_rows<Vec>};

}  // namespace odyssey::avx2
