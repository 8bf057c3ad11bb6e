// CPU thread configuration. Two thread pools serve a libtorch model on the CPU: torch's intra-op
// OpenMP pool (elementwise ops, reductions, our kernels) and OpenBLAS's own pthread pool (every
// float32 matmul). Left alone on a small machine they oversubscribe the cores and spin against
// each other, which costs several times the run time (see DESIGN.md). configure_threads() picks
// the sizes once per process; from_pretrained() and generate() call it, and programs may call it
// themselves.
#pragma once

#include <string>

namespace hfcpp {

struct ThreadConfig {
  int torch_threads = 1;  // at::get_num_threads()
  int blas_threads = 0;   // OpenBLAS's pool; 0 when the process has no OpenBLAS
  std::string omp_wait_policy;  // OMP_WAIT_POLICY as libgomp read it at start-up ("" = unset)
  // Who chose: "auto" (configure_threads' policy), "OMP_NUM_THREADS" (the environment) or "user"
  // (set_threads).
  std::string source;
  int kernel_threads = 1;  // kernel_threads()
};

// The policy, applied once (later calls return the configuration in force):
//  - OMP_NUM_THREADS set: torch and OpenBLAS both get that many threads (the user's choice);
//  - OPENBLAS_NUM_THREADS (or GOTO_NUM_THREADS) set: OpenBLAS keeps the size it read from it;
//  - set_threads() called before: kept;
//  - else: OpenBLAS gets every core and torch's pool one thread, so matmuls (the bulk of the work)
//    run in parallel while no second pool spins against them; hfcpp's own kernels still use every
//    core (kernel_threads). Measured in bench/bench_decode.cpp and scripts/bench_threads.sh; the
//    numbers are in the commits that set this policy.
ThreadConfig configure_threads();

// Explicit sizes (a value < 1 leaves that pool as it is); wins over configure_threads().
ThreadConfig set_threads(int torch_threads, int blas_threads);

// What is in force now, without changing anything.
ThreadConfig current_thread_config();

// "torch 1, OpenBLAS 2, OMP_WAIT_POLICY unset (auto)": for benchmark tables and logs.
std::string describe(const ThreadConfig& config);

// Threads of hfcpp's decoding kernels (a whole decoder step without a BLAS call, see
// LlamaModel::use_decode_kernels): every core under configure_threads' auto policy, where torch's
// pool has one thread (no OpenBLAS thread runs beside them, and one thread reaches half the memory
// bandwidth of two); else torch's intra-op count, as the user or OMP_NUM_THREADS set it. The fused
// attention, which runs between matmuls, uses torch's count.
int kernel_threads();

// Number of cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

}  // namespace hfcpp
