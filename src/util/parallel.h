// Internal: parallel loops for hfcpp's own CPU kernels with a thread count of their choosing:
// kernel_threads() for the decoding kernels, torch's intra-op setting for kernels that run between
// OpenBLAS matmuls (see hfcpp/runtime.h for why these differ under the auto policy).
#pragma once

#include <algorithm>
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

}  // namespace hfcpp::detail
