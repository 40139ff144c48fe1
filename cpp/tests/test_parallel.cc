// parallel_for: every index once, fixed chunk boundaries, exceptions, nesting, concurrent callers.
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "odyssey/parallel.h"

namespace {

void check_coverage() {
  for (int threads : {1, 2, 3, 8}) {
    odyssey::set_num_threads(threads);
    CHECK(odyssey::num_threads() == threads);
    for (std::size_t n : {0u, 1u, 5u, 64u, 1000u, 1001u}) {
      for (std::size_t grain : {1u, 7u, 64u, 5000u}) {
        std::vector<std::atomic<int>> hits(n);
        std::vector<std::atomic<int>> chunk_starts(n + 1);
        odyssey::parallel_for(n, grain, [&](std::size_t begin, std::size_t end) {
          chunk_starts[begin].fetch_add(1);
          for (std::size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
        });
        bool once = true, boundaries = true;
        for (std::size_t i = 0; i < n; ++i) {
          once = once && hits[i].load() == 1;
          boundaries = boundaries && chunk_starts[i].load() == (i % grain == 0 ? 1 : 0);
        }
        const std::string where = "threads=" + std::to_string(threads) + " n=" + std::to_string(n) +
                                  " grain=" + std::to_string(grain);
        CHECK_NOTE(once, where);
        CHECK_NOTE(boundaries, where);
      }
    }
  }
}

void check_exception_propagates() {
  odyssey::set_num_threads(2);
  bool caught = false;
  try {
    odyssey::parallel_for(100, 1, [](std::size_t begin, std::size_t) {
      if (begin == 37) throw std::runtime_error("chunk 37");
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "chunk 37";
  }
  CHECK(caught);
  // The pool still works afterwards.
  std::atomic<int> total{0};
  odyssey::parallel_for(100, 1, [&](std::size_t, std::size_t) { total.fetch_add(1); });
  CHECK(total.load() == 100);
}

void check_nested_and_concurrent() {
  odyssey::set_num_threads(2);
  std::atomic<long> total{0};
  odyssey::parallel_for(8, 1, [&](std::size_t, std::size_t) {
    odyssey::parallel_for(10, 3,
                          [&](std::size_t b, std::size_t e) { total.fetch_add(long(e - b)); });
  });
  CHECK(total.load() == 80);

  // Two threads submitting at once: one gets the pool, the other runs its chunks itself.
  std::atomic<long> a{0}, b{0};
  auto work = [](std::atomic<long>& sink) {
    for (int round = 0; round < 200; ++round) {
      odyssey::parallel_for(1000, 10,
                            [&](std::size_t s, std::size_t e) { sink.fetch_add(long(e - s)); });
    }
  };
  std::thread first([&] { work(a); }), second([&] { work(b); });
  first.join();
  second.join();
  CHECK(a.load() == 200 * 1000 && b.load() == 200 * 1000);
}

void check_bad_arguments() {
  bool threw = false;
  try {
    odyssey::set_num_threads(0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    odyssey::parallel_for(10, 0, [](std::size_t, std::size_t) {});
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  odyssey::set_num_threads(2);
  odyssey::parallel_for(4, 1, [&](std::size_t begin, std::size_t) {
    if (begin != 0) return;
    try {
      odyssey::set_num_threads(3);
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  CHECK(threw);
}

}  // namespace

int main() {
  check_coverage();
  check_exception_propagates();
  check_nested_and_concurrent();
  check_bad_arguments();
  return odyssey::test::finish();
}
