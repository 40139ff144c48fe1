// AVX-512F micro-kernel, a 12 x 32 register tile: 24 zmm accumulators, 2 for the row of B and one
// broadcast of A leave 5 of the 32 registers free. Per step of k it loads 2 vectors of B and 12
// scalars of A for 24 FMAs, within the two loads per cycle that keep both FMA units busy. The tile
// is gemm_tile.h's, on this ISA's lanes; the packing routines are AVX-512's own.
#include <immintrin.h>

#include "gemm_dot.h"
#include "gemm_tile.h"
#include "odyssey/gemm.h"
#include "odyssey/simd/vec_avx512.h"

namespace odyssey::avx512 {
namespace {

constexpr std::size_t kLanes = Vec::kLanes;
constexpr int kMr = 12;
constexpr int kNv = 2;  // vectors per row of the tile

// 16 x 16 blocks through registers: rows past the end load as zeros and columns past it are not
// read, so nothing outside the block is touched.
void pack_transposed(const float* src, std::size_t ld, std::size_t rows, std::size_t cols,
                     float* dst, std::size_t dst_stride) {
  for (std::size_t r0 = 0; r0 < rows; r0 += kLanes) {
    const std::size_t height = rows - r0 < kLanes ? rows - r0 : kLanes;
    for (std::size_t c0 = 0; c0 < cols; c0 += kLanes) {
      const std::size_t width = cols - c0 < kLanes ? cols - c0 : kLanes;
      Vec::T block[kLanes];
      for (std::size_t r = 0; r < kLanes; ++r) {
        block[r] =
            r < height ? gemm_simd::load_part<Vec>(src + (r0 + r) * ld + c0, width) : Vec::zero();
      }
      Vec::transpose_lanes(block);
      for (std::size_t c = 0; c < width; ++c) {
        gemm_simd::store_part<Vec>(dst + (c0 + c) * dst_stride + r0, block[c], height);
      }
    }
  }
}

// The panels of a wide operand are packed left to right, each row of a panel a short run far from
// the next row's, more runs than the hardware prefetchers track: each row also prefetches the run
// the next panel will copy, so its misses overlap with this panel's tiles.
void pack_copy(const float* src, std::size_t ld, std::size_t rows, std::size_t cols, float* dst,
               std::size_t dst_stride) {
  for (std::size_t r = 0; r < rows; ++r, src += ld, dst += dst_stride) {
    for (std::size_t c = 0; c < cols; c += kLanes) {
      _mm_prefetch(reinterpret_cast<const char*>(src + cols + c), _MM_HINT_T0);
    }
    std::size_t c = 0;
    for (; c + kLanes <= cols; c += kLanes) Vec::store(dst + c, Vec::load(src + c));
    if (c < cols) Vec::store_first(dst + c, Vec::load_first(src + c, cols - c), cols - c);
  }
}

}  // namespace

const GemmKernels kGemm{.mr = kMr,
                        .nr = kNv * kLanes,
                        .tile = gemm_simd::micro_kernel<Vec, kMr, kNv>,
                        .pack_transposed = pack_transposed,
                        .pack_copy = pack_copy,
                        .dot_rows = gemm_dot::dot_rows<Vec>};

}  // namespace odyssey::avx512
