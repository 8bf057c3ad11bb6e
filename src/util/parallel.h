// Internal: parallel loops for hfcpp's own CPU kernels with a thread count of their choosing:
// kernel_threads() for the decoding kernels, torch's intra-op setting for kernels that run between
// OpenBLAS matmuls (see hfcpp/runtime.h for why these differ under the auto policy).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "hfcpp/runtime.h"

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

// fn(first, last) over chunks of `chunk` (the last may be shorter) that the threads take in turn
// as they finish the previous one, so a thread that runs slower (a virtual CPU sharing its core,
// an interrupt) does less of the work instead of holding the other at the end. For bandwidth-bound
// loops where an equal split left one thread waiting a quarter of the time.
template <typename Fn>
void parallel_for_dynamic(std::int64_t begin, std::int64_t end, std::int64_t chunk, int max_threads, const Fn& fn) {
  chunk = std::max<std::int64_t>(chunk, 1);
  const std::int64_t chunks = (end - begin + chunk - 1) / chunk;
  if (chunks <= 1 || max_threads <= 1) return parallel_for(begin, end, end - begin, 1, fn);
#ifdef _OPENMP
  if (omp_in_parallel()) return parallel_for(begin, end, end - begin, 1, fn);
  std::atomic<std::int64_t> next{begin};
  std::exception_ptr failure;
#pragma omp parallel num_threads(static_cast<int>(std::min<std::int64_t>(max_threads, chunks)))
  {
    try {
      for (std::int64_t first = next.fetch_add(chunk); first < end; first = next.fetch_add(chunk))
        fn(first, std::min(end, first + chunk));
    } catch (...) {
#pragma omp critical(hfcpp_parallel_for_failure)
      if (!failure) failure = std::current_exception();
      next.store(end);  // the other threads stop at their next chunk
    }
  }
  if (failure) std::rethrow_exception(failure);
#else
  fn(begin, end);
#endif
}

}  // namespace hfcpp::detail
