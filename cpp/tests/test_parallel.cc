// parallel_for: every index once, fixed chunk boundaries, exceptions, nesting, concurrent callers,
// and thread counts the system cannot start.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "odyssey/float_controls.h"
#include "odyssey/parallel.h"
#include "odyssey/sanitizers.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

// ASan reserves terabytes of address space for its shadow memory, so a cap on it cannot work there.
#if defined(__linux__) && !defined(ODYSSEY_ASAN)
#define ODYSSEY_CAN_LIMIT_THREADS 1
#endif

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

// Every chunk of a job runs exactly once.
bool runs_every_chunk() {
  std::vector<std::atomic<int>> hits(1000);
  odyssey::parallel_for(hits.size(), 7, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
  });
  for (const auto& hit : hits) {
    if (hit.load() != 1) return false;
  }
  return true;
}

// Shrinking the pool right after a job: the workers that had not yet woken up for it must still
// see their stop. (They once read the generation after the stop flag, slept through the stop, and
// set_num_threads waited forever to join them.) Tiny jobs, finished by the caller before most
// workers wake, make that window as wide as it gets; it is still only nanoseconds, so this is a
// stress check that may catch a regression, not a reproduction of the original race.
void check_shrink_right_after_a_job() {
#if defined(__linux__)
  alarm(120);  // a hang is the failure; the default action of SIGALRM ends the test
#endif
  for (int round = 0; round < 3000; ++round) {
    odyssey::set_num_threads(4);
    odyssey::parallel_for(2, 1, [](std::size_t, std::size_t) {});
    odyssey::set_num_threads(1 + round % 3);
  }
#if defined(__linux__)
  alarm(0);
#endif
  CHECK(odyssey::num_threads() == 3);
  CHECK(runs_every_chunk());
}

#if defined(ODYSSEY_CAN_LIMIT_THREADS)

// Exit status of a child that could not apply the cap, so its checks say nothing.
constexpr int kSkipped = 77;

// Caps this process's address space 64 MiB above what it has mapped now: room for a few thread
// stacks (8 MiB each by default), not for hundreds. Tests run as root here, and root is exempt
// from RLIMIT_NPROC, so the address space is the limit that binds. Exits with kSkipped where the
// cap cannot be set or does not bind (qemu-user accepts RLIMIT_AS and ignores it).
void cap_address_space_or_skip() {
  std::ifstream status("/proc/self/status");
  long mapped_kib = -1;
  for (std::string key; status >> key;) {
    if (key == "VmSize:") {
      status >> mapped_kib;
      break;
    }
  }
  constexpr std::size_t kRoom = std::size_t{64} << 20;
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = static_cast<rlim_t>(mapped_kib) * 1024 + kRoom;
  if (mapped_kib < 0 || setrlimit(RLIMIT_AS, &limit) != 0) _exit(kSkipped);
  void* beyond = mmap(nullptr, 2 * kRoom, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (beyond != MAP_FAILED) _exit(kSkipped);
}

// Runs `test` in a forked child (so the cap and the pool it leaves stay there) and checks that it
// passed. The child inherits the parent's counts, so it reports its own failures as its exit
// status; an alarm turns a hang, the defect this guards against, into a failure.
template <typename Test>
void in_child(const char* name, Test test) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    const int failed_before = odyssey::test::g_failed;
    test();
    _exit(odyssey::test::g_failed == failed_before ? 0 : 1);
  }
  int status = 0;
  CHECK_NOTE(pid > 0 && waitpid(pid, &status, 0) == pid, name);
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSkipped) {
    std::printf("skipped %s: RLIMIT_AS cannot be capped here\n", name);
    return;
  }
  CHECK_NOTE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             std::string(name) + (WIFSIGNALED(status) ? ": killed by a signal (hung?)" : ""));
}

// set_num_threads refuses a count the system cannot start, says why, and the previous count
// keeps working with its workers.
void check_unstartable_count_is_refused() {
  in_child("set_num_threads(400) under a capped address space", [] {
    odyssey::set_num_threads(3);
    cap_address_space_or_skip();
    std::string message;
    try {
      odyssey::set_num_threads(400);
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK_NOTE(message.rfind("set_num_threads: cannot run 400 threads: only ", 0) == 0, message);
    CHECK_NOTE(message.find("the thread count stays 3") != std::string::npos, message);
    CHECK(odyssey::num_threads() == 3);
    CHECK(runs_every_chunk());
    odyssey::set_num_threads(2);  // the pool still shrinks and grows within the cap
    CHECK(runs_every_chunk());
    odyssey::set_num_threads(3);
    CHECK(odyssey::num_threads() == 3);
    CHECK(runs_every_chunk());
  });
}

// A count from ODYSSEY_NUM_THREADS that cannot start fails the first parallel job, naming the
// variable, and the pool keeps the workers that started so that the next job runs. Must run
// before anything in this process decides the thread count, since the child inherits it.
void check_unstartable_environment_count_keeps_what_started() {
  in_child("ODYSSEY_NUM_THREADS=4096 under a capped address space", [] {
    setenv("ODYSSEY_NUM_THREADS", "4096", 1);
    CHECK(odyssey::num_threads() == 4096);  // decided, not started yet
    cap_address_space_or_skip();
    std::string message;
    try {
      odyssey::parallel_for(100, 1, [](std::size_t, std::size_t) {});
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK_NOTE(message.rfind("ODYSSEY_NUM_THREADS=4096: only ", 0) == 0, message);
    CHECK_NOTE(message.find("the pool keeps the") != std::string::npos, message);
    const int running = odyssey::num_threads();
    CHECK(running >= 1 && running < 4096);
    CHECK_NOTE(message.find("later calls run on " + std::to_string(running) + " threads") !=
                   std::string::npos,
               message);
    CHECK(runs_every_chunk());
    CHECK(runs_every_chunk());
  });
}

#endif

}  // namespace

// Every chunk runs under the caller's floating-point controls, whichever thread runs it: with
// flush-to-zero on the caller, a subnormal product is 0 in every chunk.
void check_chunks_follow_the_callers_float_controls() {
  odyssey::set_num_threads(4);
  const std::uint64_t before = odyssey::float_controls();
  for (bool flush : {true, false, true}) {
    if (!odyssey::set_flush_denormal(flush)) return;  // no such mode on this CPU
    const std::uint64_t expected = odyssey::float_controls();
    std::vector<std::uint64_t> seen(64);
    std::vector<float> products(64);
    volatile float tiny = 1e-20f;  // volatile: the product is computed at run time
    odyssey::parallel_for(64, 1, [&](std::size_t begin, std::size_t) {
      seen[begin] = odyssey::float_controls();
      products[begin] = tiny * tiny;  // 1e-40 is subnormal
    });
    for (std::size_t i = 0; i < 64; ++i) {
      CHECK_NOTE(seen[i] == expected, "chunk " + std::to_string(i));
      CHECK_NOTE((products[i] == 0.0f) == flush, "chunk " + std::to_string(i));
    }
  }
  odyssey::set_float_controls(before);
}

// A chunk that outlasts the threads' spin: the caller (or a worker) falls asleep on the condition
// variable while another thread still holds the job's last chunks, and is woken when they finish;
// every index still runs once, whichever thread took the slow share.
void check_long_chunk_wakes_the_sleeping_caller() {
  for (int threads : {2, 3}) {
    odyssey::set_num_threads(threads);
    for (std::size_t slow : {0u, 3u, 5u}) {
      std::vector<std::atomic<int>> hits(6);
      odyssey::parallel_for(6, 1, [&](std::size_t begin, std::size_t end) {
        if (begin == slow) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        for (std::size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      bool once = true;
      for (const auto& hit : hits) once = once && hit.load() == 1;
      CHECK_NOTE(once,
                 "threads=" + std::to_string(threads) + " slow chunk " + std::to_string(slow));
    }
  }
}

int main() {
#if defined(ODYSSEY_CAN_LIMIT_THREADS)
  check_unstartable_environment_count_keeps_what_started();
  check_unstartable_count_is_refused();
#else
  std::printf("skipped the capped-address-space checks: they need Linux without ASan\n");
#endif
  check_coverage();
  check_exception_propagates();
  check_nested_and_concurrent();
  check_bad_arguments();
  check_shrink_right_after_a_job();
  check_chunks_follow_the_callers_float_controls();
  check_long_chunk_wakes_the_sleeping_caller();
  return odyssey::test::finish();
}
