#include "hfcpp/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "hfcpp/logging.h"

namespace hfcpp {
namespace {

// OpenBLAS is found at run time: libtorch links it on Debian, other builds may use MKL or none.
using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads openblas_setter() {
  static const auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return fn;
}
GetThreads openblas_getter() {
  static const auto fn = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn;
}

std::mutex& config_mutex() {
  static std::mutex m;
  return m;
}
std::string& chosen_by() {
  static std::string source;
  return source;
}

// kernel_threads() as set by the policy; 0 follows torch's pool. Read on every kernel call.
std::atomic<int> own_kernel_threads{0};

int positive_env_int(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return 0;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  return (end != value && parsed > 0 && parsed < 4096) ? static_cast<int>(parsed) : 0;
}

void apply(int torch_threads, int blas_threads) {
  if (torch_threads > 0 && at::get_num_threads() != torch_threads) at::set_num_threads(torch_threads);
  if (blas_threads > 0 && openblas_setter() != nullptr) openblas_setter()(blas_threads);
}

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

ThreadConfig current_thread_config() {
  ThreadConfig config;
  config.torch_threads = at::get_num_threads();
  config.blas_threads = openblas_getter() != nullptr ? openblas_getter()() : 0;
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  config.omp_wait_policy = policy != nullptr ? policy : "";
  config.source = chosen_by();
  config.kernel_threads = kernel_threads();
  return config;
}

int kernel_threads() {
  const int own = own_kernel_threads.load(std::memory_order_relaxed);
  return own > 0 ? own : at::get_num_threads();
}

ThreadConfig set_threads(int torch_threads, int blas_threads) {
  std::lock_guard lock(config_mutex());
  apply(torch_threads, blas_threads);
  own_kernel_threads = 0;
  chosen_by() = "user";
  return current_thread_config();
}

ThreadConfig configure_threads() {
  std::lock_guard lock(config_mutex());
  if (!chosen_by().empty()) return current_thread_config();
  // OpenBLAS sized by its own variables was the user's choice too: leave its pool as it read them.
  const bool blas_from_env = positive_env_int("OPENBLAS_NUM_THREADS") > 0 || positive_env_int("GOTO_NUM_THREADS") > 0;
  if (const int n = positive_env_int("OMP_NUM_THREADS")) {
    apply(n, blas_from_env ? 0 : n);
    chosen_by() = "OMP_NUM_THREADS";
  } else {
    apply(1, blas_from_env ? 0 : available_cores());
    own_kernel_threads = available_cores();
    chosen_by() = "auto";
  }
  const ThreadConfig config = current_thread_config();
  logging::debug("threads: " + describe(config));
  return config;
}

std::string describe(const ThreadConfig& config) {
  std::string text = "torch " + std::to_string(config.torch_threads) + ", OpenBLAS " +
                     (config.blas_threads > 0 ? std::to_string(config.blas_threads) : std::string("absent")) +
                     ", hfcpp kernels " + std::to_string(config.kernel_threads) +
                     ", OMP_WAIT_POLICY " + (config.omp_wait_policy.empty() ? "unset" : config.omp_wait_policy);
  if (!config.source.empty()) text += " (" + config.source + ")";
  return text;
}

}  // namespace hfcpp
