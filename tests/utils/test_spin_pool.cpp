// The decoding kernels' thread pool: every index runs once per job on its own thread, failures
// come back to the caller, and callers that cannot have the pool (nested, concurrent, forked) run
// the job alone instead of waiting or deadlocking.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../../src/util/spin_pool.h"

namespace hfcpp {
namespace {

struct Job {
  std::mutex mutex;
  std::vector<int> indices;
  std::set<std::thread::id> threads;
  int count = -1;
  void record(int index, int n) {
    std::lock_guard lock(mutex);
    indices.push_back(index);
    threads.insert(std::this_thread::get_id());
    count = n;
  }
};

TEST(SpinPool, EachIndexRunsOnceOnItsOwnThreadJobAfterJob) {
  for (int threads : {2, 3, 2, 4, 1}) {
    for (int repeat = 0; repeat < 50; ++repeat) {
      Job job;
      detail::run_on_kernel_threads(threads, [&](int index, int count) { job.record(index, count); });
      std::sort(job.indices.begin(), job.indices.end());
      std::vector<int> expected(threads);
      for (int i = 0; i < threads; ++i) expected[i] = i;
      ASSERT_EQ(job.indices, expected) << threads << " threads, repeat " << repeat;
      ASSERT_EQ(job.threads.size(), static_cast<std::size_t>(threads));
      ASSERT_EQ(job.count, threads);
    }
  }
}

TEST(SpinPool, WorkersWakeUpAfterSleeping) {
  detail::run_on_kernel_threads(2, [](int, int) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spinning time: workers sleep
  Job job;
  detail::run_on_kernel_threads(2, [&](int index, int count) { job.record(index, count); });
  EXPECT_EQ(job.threads.size(), 2u);
}

TEST(SpinPool, AFailureOnAWorkerReachesTheCallerAfterTheOthersFinish) {
  std::atomic<int> finished{0};
  EXPECT_THROW(detail::run_on_kernel_threads(2,
                                             [&](int index, int) {
                                               if (index == 1) throw std::runtime_error("worker");
                                               std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                               ++finished;
                                             }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 1);
  Job job;  // the pool still works
  detail::run_on_kernel_threads(2, [&](int index, int count) { job.record(index, count); });
  EXPECT_EQ(job.indices.size(), 2u);
}

TEST(SpinPool, NestedAndConcurrentCallersRunAlone) {
  std::atomic<int> inner_alone{0}, inner_calls{0};
  detail::run_on_kernel_threads(2, [&](int, int) {
    detail::run_on_kernel_threads(2, [&](int index, int count) {
      ++inner_calls;
      if (index == 0 && count == 1) ++inner_alone;
    });
  });
  EXPECT_EQ(inner_calls.load(), 2);  // once from each outer thread, each alone
  EXPECT_EQ(inner_alone.load(), 2);

  // Two callers at once: each job runs completely, on the pool or on its caller alone.
  std::atomic<int> covered{0};
  const auto caller = [&] {
    for (int repeat = 0; repeat < 200; ++repeat) {
      std::atomic<int> parts{0};
      detail::run_on_kernel_threads(2, [&](int, int count) { parts += count == 1 ? 2 : 1; });
      if (parts.load() == 2) ++covered;
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(covered.load(), 400);
}

TEST(SpinPool, AForkedChildHasAPoolOfItsOwn) {
  detail::run_on_kernel_threads(2, [](int, int) {});  // the parent's workers exist
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::atomic<int> ran{0};
    detail::run_on_kernel_threads(2, [&](int, int count) { ran += count; });
    _exit(ran.load() == 4 ? 0 : 1);  // two threads, each told the count 2
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace hfcpp
