// Internal: the threads of hfcpp's decoding kernels. A decoding step runs ~60 short parallel loops
// (a few microseconds to ~100 us each); OpenMP spent ~1.3 us starting its team and ~1.6 us joining
// it around every one of them here. These workers wait spinning on one counter for a while after
// each loop (then sleep), so a start and a join cost a cache-line transfer each.
#pragma once

#include <functional>

namespace hfcpp::detail {

// fn(index, count) on `threads` threads at once: the caller as index 0 and pool workers as the
// others, returning when all have finished. The first exception a thread throws is rethrown here
// after all have finished. With one thread, from inside a pool job or OpenMP region, or while
// another caller holds the pool, fn(0, 1) runs on the caller alone: callers must split their work
// by the `count` they are given.
void run_on_kernel_threads(int threads, const std::function<void(int index, int count)>& fn);

}  // namespace hfcpp::detail
