#include "spin_pool.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace hfcpp::detail {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Set on pool workers, and on a caller while it runs its share of a job: loops started there run
// on that thread alone.
thread_local bool inside_job = false;

class SpinPool {
 public:
  // How long an idle worker spins before it sleeps: longer than the gaps between a decoding step's
  // loops and between its tokens, short enough not to hold a core from other work for long.
  static constexpr std::chrono::microseconds kSpin{1000};

  bool try_run(int threads, const std::function<void(int, int)>& fn) {
    std::unique_lock busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    grow(threads - 1);
    job_ = &fn;
    failure_ = nullptr;
    remaining_.store(threads - 1, std::memory_order_relaxed);
    // One word names the job and how many threads it uses, so a worker never mixes two jobs'.
    const std::uint64_t word = ((word_.load(std::memory_order_relaxed) >> 16) + 1) << 16 | static_cast<std::uint64_t>(threads);
    word_.store(word, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard lock(sleep_mutex_);
      wake_.notify_all();
    }
    inside_job = true;
    run_share(fn, 0, threads);
    inside_job = false;
    while (remaining_.load(std::memory_order_acquire) > 0) cpu_relax();
    if (failure_) std::rethrow_exception(failure_);
    return true;
  }

 private:
  void grow(int workers) {
    while (static_cast<int>(threads_.size()) < workers) {
      const int index = static_cast<int>(threads_.size()) + 1;
      // It starts waiting for the job after the current one, whenever its thread gets to run.
      const std::uint64_t current = word_.load(std::memory_order_relaxed);
      threads_.emplace_back([this, index, current] { work(index, current); });
      threads_.back().detach();  // the pool lives as long as the process
    }
  }

  void run_share(const std::function<void(int, int)>& fn, int index, int count) {
    try {
      fn(index, count);
    } catch (...) {
      std::lock_guard lock(failure_mutex_);
      if (!failure_) failure_ = std::current_exception();
    }
  }

  void work(int index, std::uint64_t seen) {
    inside_job = true;
    while (true) {
      const std::uint64_t word = wait_for_next(seen);
      seen = word;
      const int threads = static_cast<int>(word & 0xFFFF);
      if (index >= threads) continue;
      run_share(*job_, index, threads);
      remaining_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::uint64_t wait_for_next(std::uint64_t seen) {
    auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (int spins = 1;; ++spins) {
      const std::uint64_t word = word_.load(std::memory_order_acquire);
      if (word != seen) return word;
      cpu_relax();
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock lock(sleep_mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, [&] { return word_.load(std::memory_order_seq_cst) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }

  std::mutex busy_;  // one caller at a time; the others run alone
  std::vector<std::thread> threads_;
  alignas(64) std::atomic<std::uint64_t> word_{0};  // (job number << 16) | threads
  alignas(64) std::atomic<int> remaining_{0};       // workers still running the job
  const std::function<void(int, int)>* job_ = nullptr;
  std::mutex failure_mutex_;
  std::exception_ptr failure_;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

// Never destroyed: workers may still be waiting when the process exits. A forked child has none of
// the parent's threads, so it starts a pool of its own.
SpinPool* pool = nullptr;
std::once_flag pool_once;

SpinPool& the_pool() {
  std::call_once(pool_once, [] {
    pool = new SpinPool();
    pthread_atfork(nullptr, nullptr, [] { pool = new SpinPool(); });
  });
  return *pool;
}

}  // namespace

void run_on_kernel_threads(int threads, const std::function<void(int index, int count)>& fn) {
  bool alone = threads <= 1 || threads > 0xFFFF || inside_job;
#ifdef _OPENMP
  alone = alone || omp_in_parallel();
#endif
  if (alone || !the_pool().try_run(threads, fn)) fn(0, 1);
}

}  // namespace hfcpp::detail
