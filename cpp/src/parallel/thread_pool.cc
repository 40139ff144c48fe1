// A small pool of persistent worker threads behind parallel_for. Workers claim chunk indices from
// an atomic counter; which thread runs a chunk varies, what a chunk covers does not.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "odyssey/parallel.h"

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace odyssey {
namespace {

// Waiting on a condition variable costs tens of microseconds to wake up on some machines, more
// than a small chunk of work, so a waiting thread first spins this long, then sleeps.
constexpr auto kSpinTime = std::chrono::microseconds(100);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Spins until done() or kSpinTime has passed; returns done().
template <typename Predicate>
bool spin_until(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) return done();
    cpu_relax();
  }
}

// True on pool workers and on a thread that is running a parallel_for, so nested calls run inline.
thread_local bool t_inside_parallel = false;

class ThreadPool {
 public:
  explicit ThreadPool(int num_workers) {
    workers_.reserve(static_cast<std::size_t>(num_workers));
    for (int i = 0; i < num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // wakes the spinning workers too
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs chunk(i) for every i in [0, count) on the workers and the calling thread, and returns
  // once every chunk has finished and no worker is still inside this job. A worker that has not
  // woken up yet is not waited for: when it does, it finds the job closed and leaves it alone.
  void run(std::size_t count, const std::function<void(std::size_t)>& chunk) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &chunk;
      job_size_ = count;
      next_.store(0, std::memory_order_relaxed);
      finished_.store(0, std::memory_order_relaxed);
      failed_.store(false, std::memory_order_relaxed);
      error_ = nullptr;
      open_.store(true, std::memory_order_seq_cst);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    claim_chunks();
    const auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == count; };
    if (!spin_until(all_finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, all_finished);
    }
    // A worker enters by incrementing active_ and then checking open_ (both sequentially
    // consistent), so after this store either it sees the job closed or we see it active.
    open_.store(false, std::memory_order_seq_cst);
    while (active_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    job_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // Claims chunks until none is left. After a failure the remaining chunks are claimed and
  // counted without running, so the caller's count of finished chunks still completes.
  void claim_chunks() {
    for (std::size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < job_size_;) {
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          (*job_)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!error_) error_ = std::current_exception();
          failed_.store(true, std::memory_order_relaxed);
        }
      }
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == job_size_) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between check and sleep
        done_.notify_one();
      }
    }
  }

  void worker_loop() {
    t_inside_parallel = true;
    std::uint64_t seen = 0;
    const auto job_posted = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    for (;;) {
      if (!spin_until(job_posted)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, job_posted);
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = generation_.load(std::memory_order_acquire);
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (open_.load(std::memory_order_seq_cst)) claim_chunks();
      active_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> generation_{0};
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t job_size_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> finished_{0};
  std::atomic<std::size_t> active_{0};
  std::atomic<bool> open_{false};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

// Guards the pool and the thread count; held for the whole of a parallel job. Both are pointers
// so that a forked child can drop them: the parent's workers do not exist in the child.
std::mutex* g_mutex = new std::mutex;
ThreadPool* g_pool = nullptr;
int g_num_threads = 0;  // 0: not yet decided

void forget_pool_after_fork() {
  g_mutex = new std::mutex;  // the parent's may have been held by a thread that is gone
  g_pool = nullptr;          // leaked on purpose: its threads do not exist here
}

void install_fork_handler() {
#if defined(__unix__) || defined(__APPLE__)
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, forget_pool_after_fork); });
#endif
}

int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// Call with *g_mutex held.
int threads_locked() {
  if (g_num_threads == 0) g_num_threads = default_num_threads();
  return g_num_threads;
}

}  // namespace

int default_num_threads() {
  const char* text = std::getenv("ODYSSEY_NUM_THREADS");
  if (text == nullptr || *text == '\0') return usable_cores();
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > 4096) {
    throw std::invalid_argument(std::string("ODYSSEY_NUM_THREADS='") + text +
                                "' is not a thread count; expected an integer from 1 to 4096");
  }
  return static_cast<int>(value);
}

int num_threads() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return threads_locked();
}

void set_num_threads(int n) {
  if (n < 1 || n > 4096) {
    throw std::invalid_argument("num_threads must be from 1 to 4096, got " + std::to_string(n));
  }
  if (t_inside_parallel) {
    throw std::logic_error("set_num_threads cannot be called from inside a parallel_for body");
  }
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (n == g_num_threads) return;
  delete g_pool;  // joins the old workers; the next parallel job starts a pool of the new size
  g_pool = nullptr;
  g_num_threads = n;
}

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body) {
  if (grain == 0) throw std::invalid_argument("parallel_for: grain must be positive");
  const std::size_t count = num_chunks(n, grain);
  const auto chunk = [&](std::size_t i) { body(i * grain, std::min(n, (i + 1) * grain)); };
  const auto run_serially = [&] {
    for (std::size_t i = 0; i < count; ++i) chunk(i);
  };
  if (count <= 1 || t_inside_parallel) return run_serially();

  std::unique_lock<std::mutex> lock(*g_mutex, std::try_to_lock);
  if (!lock.owns_lock() || threads_locked() == 1) return run_serially();
  if (g_pool == nullptr) {
    install_fork_handler();
    g_pool = new ThreadPool(threads_locked() - 1);
  }
  t_inside_parallel = true;
  try {
    g_pool->run(count, chunk);
  } catch (...) {
    t_inside_parallel = false;
    throw;
  }
  t_inside_parallel = false;
}

}  // namespace odyssey
