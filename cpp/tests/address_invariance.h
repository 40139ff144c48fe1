// The address-invariance check every kernel family runs: a result is a function of the values,
// shapes and options only, so the same values placed at any float offset must give the same bits.
#pragma once

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "check.h"
#include "float_buffers.h"
#include "odyssey/dispatch.h"

namespace odyssey::test {

// Offsets 0..kMaxOffset floats past a 64-byte boundary reach every alignment of every vector width
// up to 64 bytes, and one step beyond.
inline constexpr std::size_t kMaxOffset = 16;

namespace detail {

template <class Result>
bool same_result(const Result& a, const Result& b) {
  if constexpr (std::is_floating_point_v<Result>) {
    return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof(Result)) == 0;
  } else if constexpr (std::is_arithmetic_v<Result>) {
    return std::memcmp(&a, &b, sizeof(Result)) == 0;
  } else {
    return a == b;
  }
}

// Every buffer's contents after one call, with the call's own result.
template <class Result>
struct Outcome {
  std::vector<std::vector<float>> buffers;
  Result result;
};

struct NoResult {
  bool operator==(const NoResult&) const { return true; }
};

// Places buffer j at offsets[j], runs the call and records the outcome.
template <class Run>
auto run_placed(const std::vector<std::vector<float>>& initial,
                const std::vector<std::size_t>& offsets, const Run& run, bool& guards_intact) {
  std::vector<Buffer> placed;
  std::vector<float*> data;
  placed.reserve(initial.size());
  for (std::size_t j = 0; j < initial.size(); ++j) placed.emplace_back(initial[j], offsets[j]);
  for (Buffer& buffer : placed) data.push_back(buffer.data());
  using Returned = decltype(run(data.data()));
  using Result = std::conditional_t<std::is_void_v<Returned>, NoResult, Returned>;
  Outcome<Result> outcome;
  if constexpr (std::is_void_v<Returned>) {
    run(data.data());
  } else {
    outcome.result = run(data.data());
  }
  guards_intact = true;
  for (const Buffer& buffer : placed) {
    outcome.buffers.push_back(buffer.values());
    guards_intact = guards_intact && buffer.guard_intact();
  }
  return outcome;
}

}  // namespace detail

// Runs `run` on every ISA this machine supports with the float buffers `initial` (inputs and
// outputs alike, since some kernels accumulate into their outputs or work in place) placed at
// float offsets 0..kMaxOffset: all at the same offset, and staggered so that their relative
// alignments differ too. run(float* const* buffers) calls the kernel and returns its result, if
// any; every bit of every buffer afterwards, and of that result, must match those of the placement
// at offset 0, except that any two NaNs match (same_bits): which of two NaN operands an add passes
// on follows the operand order the compiler chose for that instruction. Buffers of other types
// stay fixed in the caller's lambda. `name` labels the failures.
template <class Run>
void check_address_invariance(const std::string& name,
                              const std::vector<std::vector<float>>& initial, const Run& run) {
  const Isa previous = selected_isa();
  const std::size_t count = initial.size();
  for (Isa isa : available_isas()) {
    select_isa(isa);
    bool guards_intact = true;
    const auto reference =
        detail::run_placed(initial, std::vector<std::size_t>(count, 0), run, guards_intact);
    CHECK_NOTE(guards_intact, name + " " + isa_name(isa) + " wrote past a buffer");
    for (std::size_t offset = 0; offset <= kMaxOffset; ++offset) {
      for (bool staggered : {false, true}) {
        std::vector<std::size_t> offsets(count, offset);
        // A step of 7 is coprime with the 17 offsets, so each buffer still meets every one.
        for (std::size_t j = 0; j < count && staggered; ++j) {
          offsets[j] = (offset + 7 * (j + 1)) % (kMaxOffset + 1);
        }
        const auto got = detail::run_placed(initial, offsets, run, guards_intact);
        std::string where = name + " " + isa_name(isa) + " at offsets";
        for (std::size_t o : offsets) where += " " + std::to_string(o);
        CHECK_NOTE(guards_intact, where + ": wrote past a buffer");
        bool same = detail::same_result(reference.result, got.result);
        for (std::size_t j = 0; j < count && same; ++j) {
          same = same_bits(reference.buffers[j], got.buffers[j]);
        }
        CHECK_NOTE(same, where + ": other bits than at offset 0");
      }
    }
  }
  select_isa(previous);
}

}  // namespace odyssey::test
