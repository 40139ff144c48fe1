// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random
// numbers: as easy as 1, 2, 3" (SC 2011): a 128-bit counter and a 64-bit key map to 128 random
// bits, so any draw is a pure function of its coordinates and needs no sequential state.
// Includes nothing but <cstdint>, so ISA translation units may use it too.
#pragma once

#include <cstdint>

namespace odyssey {

struct Philox4x32Block {
  std::uint32_t word[4];
};

struct Philox4x32Key {
  std::uint32_t word[2];
};

// Internal linkage: every translation unit keeps its own copy, compiled with its own ISA flags, so
// the linker can never hand baseline code a copy built for AVX-512.
namespace {

// The multipliers and Weyl key increments of the paper's Philox4x32.
constexpr std::uint32_t kPhiloxMultiplier0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxMultiplier1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxWeyl0 = 0x9E3779B9u;
constexpr std::uint32_t kPhiloxWeyl1 = 0xBB67AE85u;

constexpr Philox4x32Block philox4x32_round(const Philox4x32Block& x, const Philox4x32Key& key) {
  const std::uint64_t product0 = std::uint64_t{kPhiloxMultiplier0} * x.word[0];
  const std::uint64_t product1 = std::uint64_t{kPhiloxMultiplier1} * x.word[2];
  const auto high0 = static_cast<std::uint32_t>(product0 >> 32);
  const auto high1 = static_cast<std::uint32_t>(product1 >> 32);
  return Philox4x32Block{{high1 ^ x.word[1] ^ key.word[0], static_cast<std::uint32_t>(product1),
                          high0 ^ x.word[3] ^ key.word[1], static_cast<std::uint32_t>(product0)}};
}

// Ten rounds; the key advances by the Weyl increments between rounds.
constexpr Philox4x32Block philox4x32_10(Philox4x32Block counter, Philox4x32Key key) {
  counter = philox4x32_round(counter, key);
  for (int round = 1; round < 10; ++round) {
    key.word[0] += kPhiloxWeyl0;
    key.word[1] += kPhiloxWeyl1;
    counter = philox4x32_round(counter, key);
  }
  return counter;
}

// The top 24 bits as a float in [0, 1): exact, and the same on every ISA.
constexpr float philox_unit_float(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

}  // namespace

}  // namespace odyssey
