// The sgemm driver: splits C into blocks with fixed boundaries, and in each block walks k in kc
// steps, packs A and B into the micro-kernel's panel layout and sweeps the register tiles.
#include "odyssey/gemm.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "odyssey/dispatch.h"
#include "odyssey/parallel.h"

namespace odyssey {
namespace {

// Rows of C per block at most, before rounding up to mr: the packed block of A (at most
// 264 x kc floats, 264 KB) stays in the 2 MB L2 while every B panel of the block passes over it.
constexpr std::size_t kMcMax = 256;
// Below this many flops (2mnk) a call runs as one chunk: waking the pool costs 5-100 us.
constexpr double kSerialFlops = 4e6;
// Products that each run whole on one thread pay no repeated packing, only the wake-up: a job of
// several of them is split from this many flops (LeNet-5's 120 -> 84 backward at batch 64 has 2.6
// million, in two products).
constexpr double kSerialJobFlops = 1e6;
// Otherwise C is cut into a power of two of blocks, about flops / kFlopsPerChunk of them, from 2
// to kMaxChunks: equal blocks in a power-of-two count share out evenly over 2 or 4 threads, and
// few large blocks repeat little packing (each block packs its own A and B panels).
constexpr double kFlopsPerChunk = 40e6;
constexpr std::size_t kMaxChunks = 8;
// Rows of B read in place, spanning at most this many bytes, stay in the 48 KB L1 beside the rest.
constexpr std::size_t kL1InPlaceBytes = 24 * 1024;
// A row split stops at this many rows per block, or each B panel serves too few tiles.
constexpr std::size_t kMinRows = 64;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }
std::size_t round_up(std::size_t a, std::size_t b) { return ceil_div(a, b) * b; }

struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

// A 64-byte aligned float buffer that only grows; one per thread, reused from call to call.
class PackBuffer {
 public:
  float* get(std::size_t floats) {
    if (floats > capacity_) {
      data_.reset(
          static_cast<float*>(::operator new[](floats * sizeof(float), std::align_val_t{64})));
      capacity_ = floats;
    }
    return data_.get();
  }

 private:
  std::unique_ptr<float[], AlignedDelete> data_;
  std::size_t capacity_ = 0;
};

thread_local PackBuffer t_pack_a;
thread_local PackBuffer t_pack_b;

// The blocks of C, mb x nb each, and how many make one parallel chunk: from the problem shape
// alone.
struct Blocking {
  std::size_t mb, nb;
  std::size_t row_blocks, col_blocks;
  std::size_t blocks_per_chunk;  // all of them below kSerialFlops, else 1
};

Blocking plan_blocks(std::size_t m, std::size_t n, std::size_t k, std::size_t mr, std::size_t nr) {
  const double flops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  std::size_t target = 1;
  if (flops >= kSerialFlops) {
    target = 2;
    while (target < kMaxChunks && static_cast<double>(2 * target) * kFlopsPerChunk <= flops) {
      target *= 2;
    }
  }
  // Halve the longer side of the blocks: square blocks amortise both packings best.
  std::size_t rows = ceil_div(m, kMcMax), cols = 1;
  while (rows * cols < target) {
    const std::size_t mb = ceil_div(m, rows), nb = ceil_div(n, cols);
    if (nb > mb && nb >= 2 * nr) {
      cols *= 2;
    } else if (mb >= 2 * kMinRows) {
      rows *= 2;
    } else if (nb >= 2 * nr) {
      cols *= 2;
    } else if (mb >= 2 * mr) {
      rows *= 2;
    } else {
      break;
    }
  }
  Blocking blocking{};
  blocking.mb = round_up(ceil_div(m, rows), mr);
  blocking.nb = round_up(ceil_div(n, cols), nr);
  blocking.row_blocks = ceil_div(m, blocking.mb);
  blocking.col_blocks = ceil_div(n, blocking.nb);
  blocking.blocks_per_chunk = target == 1 ? blocking.row_blocks * blocking.col_blocks : 1;
  return blocking;
}

void portable_pack_transposed(const float* src, std::size_t ld, std::size_t rows, std::size_t cols,
                              float* dst, std::size_t dst_stride) {
  // Reads along src's rows, writes with stride dst_stride.
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) dst[c * dst_stride + r] = src[r * ld + c];
  }
}

void portable_pack_copy(const float* src, std::size_t ld, std::size_t rows, std::size_t cols,
                        float* dst, std::size_t dst_stride) {
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) dst[r * dst_stride + c] = src[r * ld + c];
  }
}

struct Packers {
  GemmPack transposed, copy;
};

// op(A)[i0:i0+rows, p0:p0+depth] as consecutive mr-row panels, panel r at dst + r * depth (r a
// multiple of mr), element (i, p) of a panel at p * mr + i. The last panel keeps stride mr with
// its missing rows unwritten: the micro-kernel reads only the rows it was given.
void pack_a(const GemmProblem& pr, const Packers& pack, std::size_t i0, std::size_t rows,
            std::size_t p0, std::size_t depth, std::size_t mr, float* dst) {
  for (std::size_t r = 0; r < rows; r += mr) {
    const std::size_t height = std::min(mr, rows - r);
    if (pr.trans_a == Trans::kNo) {
      pack.transposed(pr.a + (i0 + r) * pr.lda + p0, pr.lda, height, depth, dst + r * depth, mr);
    } else {
      pack.copy(pr.a + p0 * pr.lda + i0 + r, pr.lda, depth, height, dst + r * depth, mr);
    }
  }
}

// op(B)[p0:p0+depth, j0:j0+width] (width <= nr) as one panel, element (p, j) at p * nr + j.
void pack_b(const GemmProblem& pr, const Packers& pack, std::size_t p0, std::size_t depth,
            std::size_t j0, std::size_t width, std::size_t nr, float* dst) {
  if (pr.trans_b == Trans::kNo) {
    pack.copy(pr.b + p0 * pr.ldb + j0, pr.ldb, depth, width, dst, nr);
  } else {
    pack.transposed(pr.b + j0 * pr.ldb + p0, pr.ldb, width, depth, dst, nr);
  }
}

// C[i_begin:i_end, j_begin:j_end] in full, k included.
void compute_block(const GemmProblem& pr, const GemmKernels& kernels, std::size_t i_begin,
                   std::size_t i_end, std::size_t j_begin, std::size_t j_end, bool pack_a_block,
                   bool pack_b_panels) {
  const std::size_t mr = kernels.mr, nr = kernels.nr;
  const std::size_t rows = i_end - i_begin;
  const Packers pack{kernels.pack_transposed ? kernels.pack_transposed : portable_pack_transposed,
                     kernels.pack_copy ? kernels.pack_copy : portable_pack_copy};
  float* const a_packed = pack_a_block ? t_pack_a.get(round_up(rows, mr) * kGemmKc) : nullptr;
  float* const b_packed = pack_b_panels ? t_pack_b.get(nr * kGemmKc) : nullptr;
  for (std::size_t p0 = 0; p0 < pr.k; p0 += kGemmKc) {
    const std::size_t depth = std::min(kGemmKc, pr.k - p0);
    // Later k blocks add to what the first one wrote.
    const bool first = p0 == 0;
    GemmTile tile{};
    tile.k = depth;
    tile.ldc = pr.ldc;
    tile.alpha = pr.alpha;
    tile.beta = first ? pr.beta : 1.0f;
    if (pack_a_block) {
      pack_a(pr, pack, i_begin, rows, p0, depth, mr, a_packed);
      tile.a_stride = mr;
      tile.a_row = 1;
    } else if (pr.trans_a == Trans::kYes) {
      tile.a_stride = pr.lda;
      tile.a_row = 1;
    } else {
      tile.a_stride = 1;
      tile.a_row = pr.lda;
    }
    for (std::size_t j = j_begin; j < j_end; j += nr) {
      tile.n = std::min(nr, j_end - j);
      if (pack_b_panels) {
        pack_b(pr, pack, p0, depth, j, tile.n, nr, b_packed);
        tile.b = b_packed;
        tile.b_stride = nr;
      } else {  // op(B) = B: its rows are the panel's rows
        tile.b = pr.b + p0 * pr.ldb + j;
        tile.b_stride = pr.ldb;
      }
      tile.bias = first && pr.bias != nullptr ? pr.bias + j : nullptr;
      for (std::size_t i = i_begin; i < i_end; i += mr) {
        tile.m = std::min(mr, i_end - i);
        if (pack_a_block) {
          tile.a = a_packed + (i - i_begin) * depth;
        } else {
          tile.a = pr.trans_a == Trans::kYes ? pr.a + p0 * pr.lda + i : pr.a + i * pr.lda + p0;
        }
        tile.c = pr.c + i * pr.ldc + j;
        kernels.tile(tile);
      }
    }
  }
}

// C = beta * C + bias, for k == 0 or alpha == 0, where A and B are not read.
void scale_c(const GemmProblem& pr) {
  for (std::size_t i = 0; i < pr.m; ++i) {
    float* c = pr.c + i * pr.ldc;
    for (std::size_t j = 0; j < pr.n; ++j) {
      float r = pr.beta != 0.0f ? pr.beta * c[j] : 0.0f;
      if (pr.bias != nullptr) r += pr.bias[j];
      c[j] = r;
    }
  }
}

void check_leading_dimension(const char* name, std::size_t ld, std::size_t row) {
  if (ld < row) {
    throw std::invalid_argument(std::string("sgemm: ") + name + " = " + std::to_string(ld) +
                                " is smaller than a row of " + std::to_string(row));
  }
}

}  // namespace

const GemmKernels* gemm_kernels(Isa isa) {
  static constexpr auto kTables = ODYSSEY_ISA_TABLES(GemmKernels, kGemm);
  return kTables.get(isa);
}

namespace {

// How one product of sgemm_many runs: its blocks of C (or a single pass for the special cases) and
// which packings pay.
struct Plan {
  enum class Kind { kTiles, kScale, kDotRows } kind = Kind::kTiles;
  Blocking blocking{};
  bool pack_a_block = false, pack_b_panels = false;
};

Plan plan_problem(const GemmProblem& pr, const GemmKernels& kernels) {
  Plan plan;
  if (pr.k == 0 || pr.alpha == 0.0f) {
    plan.kind = Plan::Kind::kScale;
    return plan;
  }
  // A Linear forward of a row or two: the tiles would pack all of B transposed for them (at batch
  // 1, LeNet-5's 400 -> 120 layer took 11 us, 9 of them packing); dot products read B in place.
  if (pr.m <= kDotRowsMax && pr.trans_a == Trans::kNo && pr.trans_b == Trans::kYes &&
      pr.alpha == 1.0f && pr.beta == 0.0f &&
      2.0 * static_cast<double>(pr.m * pr.n) * static_cast<double>(pr.k) < kSerialFlops) {
    plan.kind = Plan::Kind::kDotRows;
    return plan;
  }
  plan.blocking = plan_blocks(pr.m, pr.n, pr.k, kernels.mr, kernels.nr);
  // An A panel serves every nr-column panel of its block, a B panel every mr-row tile: packing
  // pays when they are used many times from far apart in memory. The micro-kernels read A's rows
  // or columns in place, so A is packed only for wide blocks. B is read in place when it is not
  // transposed and either used once or small enough (its rows of one k block) to stay in L1.
  plan.pack_a_block = plan.blocking.nb > 2 * kernels.nr;
  const bool b_in_l1 = std::min(pr.k, kGemmKc) * pr.ldb * sizeof(float) <= kL1InPlaceBytes;
  plan.pack_b_panels = pr.trans_b == Trans::kYes || (plan.blocking.mb > kernels.mr && !b_in_l1);
  return plan;
}

// Blocks [begin, end) of one product's plan.
void run_blocks(const GemmProblem& pr, const Plan& plan, const GemmKernels& kernels,
                std::size_t begin, std::size_t end) {
  switch (plan.kind) {
    case Plan::Kind::kScale:
      return scale_c(pr);
    case Plan::Kind::kDotRows:
      return kernels.dot_rows(pr.a, pr.m, pr.lda, pr.b, pr.ldb, pr.n, pr.k, pr.bias, pr.c, pr.ldc);
    case Plan::Kind::kTiles:
      break;
  }
  const Blocking& blocking = plan.blocking;
  for (std::size_t block = begin; block < end; ++block) {
    const std::size_t i = block / blocking.col_blocks * blocking.mb;
    const std::size_t j = block % blocking.col_blocks * blocking.nb;
    compute_block(pr, kernels, i, std::min(pr.m, i + blocking.mb), j,
                  std::min(pr.n, j + blocking.nb), plan.pack_a_block, plan.pack_b_panels);
  }
}

// One parallel chunk of sgemm_many: blocks [begin, end) of product `problem`.
struct Chunk {
  std::size_t problem, begin, end;
};

thread_local std::vector<Plan> t_plans;
thread_local std::vector<Chunk> t_chunks;

}  // namespace

void sgemm_many(const GemmProblem* problems, std::size_t count) {
  for (std::size_t p = 0; p < count; ++p) {
    const GemmProblem& pr = problems[p];
    check_leading_dimension("lda", pr.lda, pr.trans_a == Trans::kNo ? pr.k : pr.m);
    check_leading_dimension("ldb", pr.ldb, pr.trans_b == Trans::kNo ? pr.n : pr.k);
    check_leading_dimension("ldc", pr.ldc, pr.n);
  }
  const GemmKernels& kernels = gemm_kernels();
  // The calling thread's lists, reused from call to call (a small product's two allocations cost
  // 5 % of its time); a chunk never calls sgemm_many, so they are not reentered while in use. Named
  // by reference: the workers running the chunks must read these, not their own thread_locals.
  std::vector<Plan>& plans = t_plans;
  std::vector<Chunk>& chunks = t_chunks;
  plans.assign(count, Plan{});
  chunks.clear();
  for (std::size_t p = 0; p < count; ++p) {
    const GemmProblem& pr = problems[p];
    if (pr.m == 0 || pr.n == 0) continue;
    plans[p] = plan_problem(pr, kernels);
    if (plans[p].kind != Plan::Kind::kTiles) {
      chunks.push_back({p, 0, 1});
      continue;
    }
    const Blocking& blocking = plans[p].blocking;
    const std::size_t blocks = blocking.row_blocks * blocking.col_blocks;
    for (std::size_t b = 0; b < blocks; b += blocking.blocks_per_chunk) {
      chunks.push_back({p, b, std::min(blocks, b + blocking.blocks_per_chunk)});
    }
  }
  // A job of several products below kSerialJobFlops runs as one chunk (a Linear layer's backward
  // at batch 1: three products of 0.1 MFLOP, less work than waking the pool).
  double flops = 0.0;
  for (std::size_t p = 0; p < count; ++p) {
    const GemmProblem& pr = problems[p];
    flops +=
        2.0 * static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
  }
  const std::size_t grain = flops < kSerialJobFlops && chunks.size() > 1 ? chunks.size() : 1;
  parallel_for(chunks.size(), grain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t c = begin; c < end; ++c) {
      const Chunk& chunk = chunks[c];
      run_blocks(problems[chunk.problem], plans[chunk.problem], kernels, chunk.begin, chunk.end);
    }
  });
}

void sgemm_bias(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                float beta, const float* bias, float* c, std::size_t ldc) {
  const GemmProblem problem{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc};
  sgemm_many(&problem, 1);
}

void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc) {
  sgemm_bias(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, nullptr, c, ldc);
}

}  // namespace odyssey
