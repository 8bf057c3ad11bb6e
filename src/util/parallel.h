// Internal: parallel loops for hfcpp's own CPU kernels with a thread count of their choosing:
// kernel_threads() for the decoding kernels (parallel_for_dynamic, on the spin pool), torch's
// intra-op setting for kernels that run between OpenBLAS matmuls (parallel_for, on OpenMP's team;
// see hfcpp/runtime.h for why these differ under the auto policy).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "hfcpp/runtime.h"
#include "spin_pool.h"

namespace hfcpp::detail {

// fn(first, last) over contiguous chunks of [begin, end), one per thread of `max_threads`, each at
// least `grain` long where the range allows. Serial inside another parallel region, for short
// ranges, and in builds without OpenMP. The first exception thrown by a chunk is rethrown here.
template <typename Fn>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, int max_threads, const Fn& fn) {
  const std::int64_t range = end - begin;
  if (range <= 0) return;
  std::int64_t threads = std::min<std::int64_t>(max_threads, (range + grain - 1) / std::max<std::int64_t>(grain, 1));
#ifdef _OPENMP
  if (omp_in_parallel()) threads = 1;
#else
  threads = 1;
#endif
  if (threads <= 1) {
    fn(begin, end);
    return;
  }
  std::exception_ptr failure;
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const std::int64_t count = omp_get_num_threads(), id = omp_get_thread_num();
    const std::int64_t first = begin + range * id / count, last = begin + range * (id + 1) / count;
    try {
      if (first < last) fn(first, last);
    } catch (...) {
#pragma omp critical(hfcpp_parallel_for_failure)
      if (!failure) failure = std::current_exception();
    }
  }
#endif
  if (failure) std::rethrow_exception(failure);
}

// fn(first, last) over chunks of `chunk` (the last may be shorter) on the kernel threads
// (run_on_kernel_threads), balanced as the threads run: each owns an equal run of chunks and takes
// them from its front, so it streams its part of memory in order; one that finishes early takes
// chunks from the back of the others' runs. A thread that runs slower (a virtual CPU sharing its
// core, an interrupt) then does less of the work instead of holding the others at the end, and
// memory is still read as long sequential streams (handing out chunks in turn, which interleaves
// the threads' reads, streamed 20% slower here). The first exception a chunk throws stops the loop
// and is rethrown here.
template <typename Fn>
void parallel_for_dynamic(std::int64_t begin, std::int64_t end, std::int64_t chunk, int max_threads, const Fn& fn) {
  if (end <= begin) return;
  chunk = std::max<std::int64_t>({chunk, 1, (end - begin) >> 31});  // chunk indices fit in 32 bits
  const std::int64_t chunks = (end - begin + chunk - 1) / chunk;
  const std::int64_t threads = std::min<std::int64_t>(max_threads, chunks);
  if (threads <= 1) return fn(begin, end);
  // One cache line per run: a thread taking from its own run does not disturb the others'.
  struct alignas(64) Run {
    std::atomic<std::uint64_t> packed;  // (back << 32) | front, in chunks; empty when front == back
  };
  std::vector<Run> runs(static_cast<std::size_t>(threads));
  for (std::int64_t t = 0; t < threads; ++t)
    runs[t].packed.store(static_cast<std::uint64_t>(chunks * (t + 1) / threads) << 32 |
                         static_cast<std::uint64_t>(chunks * t / threads));
  const auto take = [](Run& run, bool front, std::uint64_t& index) {
    std::uint64_t packed = run.packed.load();
    while (true) {
      const std::uint64_t first = packed & 0xFFFFFFFFu, last = packed >> 32;
      if (first >= last) return false;
      const std::uint64_t taken = front ? (last << 32 | (first + 1)) : ((last - 1) << 32 | first);
      if (run.packed.compare_exchange_weak(packed, taken)) {
        index = front ? first : last - 1;
        return true;
      }
    }
  };
  run_on_kernel_threads(static_cast<int>(threads), [&](int me, int /*count*/) {
    const auto run_chunk = [&](std::uint64_t index) {
      const std::int64_t first = begin + static_cast<std::int64_t>(index) * chunk;
      fn(first, std::min(end, first + chunk));
    };
    try {
      std::uint64_t index = 0;
      // A caller left alone (count 1) takes every run in turn.
      while (take(runs[me], true, index)) run_chunk(index);
      for (std::int64_t step = 1; step < threads; ++step)
        while (take(runs[(me + step) % threads], false, index)) run_chunk(index);
    } catch (...) {
      for (auto& run : runs) run.packed.store(0);  // empty: the others stop at their next chunk
      throw;
    }
  });
}

}  // namespace hfcpp::detail
