// NEON micro-kernel, an 8 x 12 register tile: 24 q-register accumulators, 3 for the row of B and
// the broadcasts of A within the 32 registers. The tile is gemm_tile.h's, on this ISA's lanes.
#include "gemm_dot.h"
#include "gemm_tile.h"
#include "odyssey/gemm.h"
#include "odyssey/simd/vec_neon.h"

namespace odyssey::neon {
namespace {

constexpr int kMr = 8;
constexpr int kNv = 3;  // vectors per row of the tile

}  // namespace

const GemmKernels kGemm{.mr = kMr,
                        .nr = kNv * Vec::kLanes,
                        .tile = gemm_simd::micro_kernel<Vec, kMr, kNv>,
                        .pack_transposed = nullptr,
                        .pack_copy = nullptr,
                        .dot_rows = gemm_dot::dot_rows<Vec>};

}  // namespace odyssey::neon
