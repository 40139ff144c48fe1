// A small pool of persistent worker threads behind parallel_for. Each thread first claims the
// chunks of its own contiguous share of a job, then helps with the others' shares; which thread
// runs a chunk varies, what a chunk covers does not.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "odyssey/float_controls.h"
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
// than a small chunk of work, so a waiting thread first spins this long, then sleeps. A training
// step has serial stretches of a few hundred microseconds (Python, the optimizer step, layers too
// small to split): with 100 us the workers slept through them and the next job found them asleep
// (LeNet-5 at batch 64 on 2 threads: 5.5 % faster with 1 ms; OpenMP runtimes spin as long).
constexpr auto kSpinTime = std::chrono::microseconds(1000);
// With more threads than cores a spinning thread holds a core that another one needs, so the pool
// then spins only briefly (as OpenMP runtimes do when oversubscribed).
constexpr auto kOversubscribedSpinTime = std::chrono::microseconds(50);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Spins until done() or `spin` has passed; returns done().
template <typename Predicate>
bool spin_until(Predicate done, std::chrono::microseconds spin) {
  const auto deadline = std::chrono::steady_clock::now() + spin;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) return done();
    cpu_relax();
  }
}

// True on pool workers and on a thread that is running a parallel_for, so nested calls run inline.
thread_local bool t_inside_parallel = false;

int usable_cores();

// The next unclaimed chunk of one thread's share and where that share ends, on a cache line of its
// own so that threads claiming from their own shares do not contend.
struct alignas(64) Share {
  std::atomic<std::size_t> next{0};
  std::size_t end = 0;
};

class ThreadPool {
 public:
  ThreadPool() = default;
  ~ThreadPool() { shrink_to(0); }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  // Starts workers until there are `target`. When the system refuses one (std::system_error from
  // std::thread, or std::bad_alloc), that exception propagates and the workers started so far
  // stay in the pool. Starting them outside the constructor is the point: a constructor that
  // throws destroys the members its started workers are waiting on, and they never return.
  // Call only while no job runs.
  void grow_to(int target) {
    if (target <= size()) return;
    workers_.reserve(static_cast<std::size_t>(target));
    shares_ = std::make_unique<Share[]>(static_cast<std::size_t>(target) + 1);
    set_spin_time(target + 1);
    // No stopped worker is left (shrink_to joined them), so raising the bound stops nobody.
    keep_.store(target, std::memory_order_relaxed);
    while (size() < target) {
      const int index = size();
      const std::uint64_t seen = generation_.load(std::memory_order_relaxed);
      workers_.emplace_back([this, index, seen] { worker_loop(index, seen); });
    }
  }

  // Stops and joins the workers from index `target` on. Call only while no job runs.
  void shrink_to(int target) {
    if (target >= size()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      keep_.store(target, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // wakes the spinning workers too
    }
    wake_.notify_all();
    for (std::size_t i = static_cast<std::size_t>(target); i < workers_.size(); ++i) {
      workers_[i].join();
    }
    workers_.resize(static_cast<std::size_t>(target));
    set_spin_time(target + 1);
  }

  // Runs chunk(i) for every i in [0, count) on the workers and the calling thread, and returns
  // once every chunk has finished and no worker is still inside this job. A worker that has not
  // woken up yet is not waited for: when it does, it finds the job closed and leaves it alone.
  // Thread t (the caller 0, worker w as w + 1) owns the t-th of size() + 1 contiguous shares of
  // [0, count): consecutive jobs over the same batch then give each thread the same samples, which
  // its core's cache still holds from the job before.
  void run(std::size_t count, const std::function<void(std::size_t)>& chunk) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &chunk;
      job_size_ = count;
      controls_ = float_controls();
      participants_ = workers_.size() + 1;
      for (std::size_t t = 0; t < participants_; ++t) {
        shares_[t].next.store(count * t / participants_, std::memory_order_relaxed);
        shares_[t].end = count * (t + 1) / participants_;
      }
      finished_.store(0, std::memory_order_relaxed);
      failed_.store(false, std::memory_order_relaxed);
      error_ = nullptr;
      open_.store(true, std::memory_order_seq_cst);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    claim_chunks(0);
    const auto all_finished = [&] { return finished_.load(std::memory_order_acquire) == count; };
    if (!spin_until(all_finished, spin_time())) {
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
  std::chrono::microseconds spin_time() const {
    return std::chrono::microseconds(spin_us_.load(std::memory_order_relaxed));
  }

  // The spin for a pool of `threads` threads, the caller included.
  void set_spin_time(int threads) {
    const auto spin = threads <= usable_cores() ? kSpinTime : kOversubscribedSpinTime;
    spin_us_.store(spin.count(), std::memory_order_relaxed);
  }

  // Claims chunks until none is left: thread `self`'s own share first, then what is left of the
  // others' shares, each from its start. After a failure the remaining chunks are claimed and
  // counted without running, so the caller's count of finished chunks still completes. The count
  // is added once at the end, not per chunk: a cache line bounced between cores for every chunk
  // cost as much as LeNet's small chunks themselves.
  void claim_chunks(std::size_t self) {
    std::size_t ran = 0;
    for (std::size_t step = 0; step < participants_; ++step) {
      Share& share = shares_[(self + step) % participants_];
      for (std::size_t i; (i = share.next.fetch_add(1, std::memory_order_relaxed)) < share.end;) {
        run_chunk(i);
        ++ran;
      }
    }
    if (ran > 0 && finished_.fetch_add(ran, std::memory_order_acq_rel) + ran == job_size_) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between check and sleep
      done_.notify_one();
    }
  }

  void run_chunk(std::size_t i) {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }

  // `seen` is the generation at start: a job posted before this worker existed is not its own.
  void worker_loop(int index, std::uint64_t seen) {
    t_inside_parallel = true;
    const auto job_posted = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    for (;;) {
      if (!spin_until(job_posted, spin_time())) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, job_posted);
      }
      // The generation is read before keep_: shrink_to stores keep_ before it bumps the
      // generation, so either this worker sees its stop now, or it waits for a generation past
      // the one it read and the bump wakes it. Read after keep_, a bump in between would be taken
      // as seen and the worker would sleep through its own stop while shrink_to joins it.
      const std::uint64_t generation = generation_.load(std::memory_order_acquire);
      if (index >= keep_.load(std::memory_order_relaxed)) return;
      seen = generation;
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (open_.load(std::memory_order_seq_cst)) {
        // The caller's rounding and flush-to-zero, so that no bit depends on who ran a chunk.
        if (float_controls() != controls_) set_float_controls(controls_);
        claim_chunks(static_cast<std::size_t>(index) + 1);
      }
      active_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<int> keep_{std::numeric_limits<int>::max()};  // workers from this index on stop
  std::atomic<std::uint64_t> generation_{0};
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t job_size_ = 0;
  std::uint64_t controls_ = 0;       // the caller's float_controls() for this job
  std::unique_ptr<Share[]> shares_;  // one per thread: the caller's, then the workers'
  std::size_t participants_ = 1;     // threads sharing the job: the workers and the caller
  std::atomic<std::chrono::microseconds::rep> spin_us_{kSpinTime.count()};
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

// Where the thread count came from, so that a failure to start it names what to change.
enum class CountSource { kCores, kEnvironment, kSetNumThreads };

// The count in effect (0: not yet decided) and its source. Once the pool is started it has
// g_num_threads - 1 workers, the calling thread being the last; until then (at first, and in a
// forked child) it is started by the next parallel job.
int g_num_threads = 0;
CountSource g_source = CountSource::kCores;

void forget_pool_after_fork() {
  g_mutex = new std::mutex;  // the parent's may have been held by a thread that is gone
  g_pool = nullptr;          // leaked on purpose: its threads do not exist here
}

// Call with *g_mutex held.
ThreadPool& pool_locked() {
  if (g_pool == nullptr) {
#if defined(__unix__) || defined(__APPLE__)
    static std::once_flag once;
    std::call_once(once, [] { pthread_atfork(nullptr, nullptr, forget_pool_after_fork); });
#endif
    g_pool = new ThreadPool;
  }
  return *g_pool;
}

int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

bool environment_sets_threads() {
  const char* text = std::getenv("ODYSSEY_NUM_THREADS");
  return text != nullptr && *text != '\0';
}

// Call with *g_mutex held.
int threads_locked() {
  if (g_num_threads == 0) {
    g_num_threads = default_num_threads();
    g_source = environment_sets_threads() ? CountSource::kEnvironment : CountSource::kCores;
  }
  return g_num_threads;
}

const char* const kRaiseTheLimit =
    "raise the process's limit on threads or address space (ulimit -u, ulimit -v; each thread "
    "reserves its stack)";

// Why `wanted` threads could not run: the pool reached only `workers` of the wanted - 1 workers
// before std::thread threw `reason`.
std::string could_not_start(int wanted, int workers, const std::exception& reason) {
  return "only " + std::to_string(workers) + " of the " + std::to_string(wanted - 1) +
         " worker threads that " + std::to_string(wanted) +
         " threads need could be started (the system refused the next one: " + reason.what() + ")";
}

// Starts the pool at the decided count, for the first parallel job (or the first in a forked
// child). When the system refuses part of it, the pool keeps the workers that started and the
// count drops to match, so later jobs run; this one throws std::runtime_error saying so.
// Call with *g_mutex held.
void start_pool_locked() {
  ThreadPool& pool = pool_locked();
  const int wanted = threads_locked();
  try {
    pool.grow_to(wanted - 1);
  } catch (const std::exception& e) {
    g_num_threads = pool.size() + 1;
    const std::string running = std::to_string(g_num_threads);
    std::string asked;
    std::string fix;
    switch (g_source) {
      case CountSource::kEnvironment:
        asked = "ODYSSEY_NUM_THREADS=" + std::to_string(wanted);
        fix = "set ODYSSEY_NUM_THREADS to at most " + running;
        break;
      case CountSource::kCores:
        asked = "the default thread count (" + std::to_string(wanted) + ", one per usable core)";
        fix = "set ODYSSEY_NUM_THREADS or call set_num_threads with at most " + running;
        break;
      case CountSource::kSetNumThreads:
        asked = "set_num_threads(" + std::to_string(wanted) + ") (restarting after fork)";
        fix = "call set_num_threads with at most " + running;
        break;
    }
    throw std::runtime_error(asked + ": " + could_not_start(wanted, pool.size(), e) +
                             ". This call did not run; the pool keeps the " +
                             std::to_string(pool.size()) +
                             " workers that started, so later calls run on " + running +
                             " threads. To avoid this, " + fix + ", or " + kRaiseTheLimit + ".");
  }
}

}  // namespace

int default_num_threads() {
  const char* text = std::getenv("ODYSSEY_NUM_THREADS");
  if (text == nullptr || *text == '\0') return usable_cores();
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > kMaxThreads) {
    throw std::invalid_argument(std::string("ODYSSEY_NUM_THREADS='") + text +
                                "' is not a thread count; expected an integer from 1 to " +
                                std::to_string(kMaxThreads) +
                                ", or unset it for one thread per usable core");
  }
  return static_cast<int>(value);
}

int num_threads() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return threads_locked();
}

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads) {
    throw std::invalid_argument("set_num_threads: n must be from 1 to " +
                                std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
  if (t_inside_parallel) {
    throw std::logic_error("set_num_threads cannot be called from inside a parallel_for body");
  }
  std::lock_guard<std::mutex> lock(*g_mutex);
  const int previous = threads_locked();
  ThreadPool& pool = pool_locked();
  const int previous_workers = pool.size();
  // The old workers keep running while the new ones start, so a refusal stops only the new ones
  // and leaves the previous count working exactly as before.
  try {
    pool.grow_to(n - 1);
  } catch (const std::exception& e) {
    const int reached = pool.size();
    pool.shrink_to(previous_workers);
    throw std::runtime_error("set_num_threads: cannot run " + std::to_string(n) + " threads: " +
                             could_not_start(n, reached, e) + "; the thread count stays " +
                             std::to_string(previous) + ". Ask for at most " +
                             std::to_string(reached + 1) + " threads, or " + kRaiseTheLimit + ".");
  }
  pool.shrink_to(n - 1);
  g_num_threads = n;
  g_source = CountSource::kSetNumThreads;
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
  if (pool_locked().size() != g_num_threads - 1) start_pool_locked();
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
