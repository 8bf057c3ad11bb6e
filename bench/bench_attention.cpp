// Fused attention ("sdpa", hfcpp::nn::scaled_dot_product_attention) against the eager math
// (hfcpp::nn::reference_attention, which materialises the [L, L] scores as Transformers' eager
// attention does).
//
//   bench_attention [--threads N] [--seqs 512,2048,8192] [--eager-max-gb G] [--json FILE]
//
// Prefill: batch 1, 32 heads x 64, causal, float32 and bfloat16, one fresh process per case
// (this binary re-executes itself). In the child: inputs are made, the peak-RSS mark is reset
// (/proc/self/clear_refs) and the first call runs: its time is "cold" (fresh pages from the host)
// and the growth of VmHWM over the RSS before the call is the call's peak memory (the output
// included; libtorch 1.13 has no CPU allocator statistics). Then, following DESIGN.md, a buffer the
// size of that peak is touched and freed and the call is timed again several times: "warm" is the
// median. Eager cases whose score tensors would pass --eager-max-gb (default 6) are skipped.
//
// Decode: Lq = 1 against Lk = 128..2048 cached keys, causal, 12 heads x 64 (MHA) and 32 query /
// 4 kv heads x 64 (GQA), median of many calls in this process.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hfcpp/nn/attention.h"

using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kHeads = 32, kHeadDim = 64;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// CPU time of the whole process (all threads): on a shared, loaded machine it shows the work
// a call costs when wall time mostly shows the wait for a core.
double cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

std::string load_average() {
  double load[3] = {};
  if (::getloadavg(load, 3) != 3) return "?";
  char text[64];
  std::snprintf(text, sizeof text, "%.1f %.1f %.1f", load[0], load[1], load[2]);
  return text;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// A field of /proc/self/status in bytes (VmRSS, VmHWM).
double status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) * 1024.0;
  return 0.0;
}

bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear.flush());
}

void touch_and_free(double bytes) {
  const std::size_t n = static_cast<std::size_t>(bytes);
  if (n == 0) return;
  auto* buffer = static_cast<volatile char*>(std::malloc(n));
  for (std::size_t i = 0; i < n; i += 4096) buffer[i] = 1;
  std::free(const_cast<char*>(buffer));
}

at::ScalarType dtype_named(const std::string& name) { return name == "bf16" ? at::kBFloat16 : at::kFloat; }

at::Tensor attend(const std::string& impl, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const hfcpp::nn::AttentionOptions causal{.is_causal = true};
  return impl == "sdpa" ? hfcpp::nn::scaled_dot_product_attention(q, k, v, {}, causal)
                        : hfcpp::nn::reference_attention(q, k, v, {}, causal);
}

// Child: one prefill case; prints "cold_s warm_s warm_cpu_s peak_bytes runs".
int run_prefill_case(const std::string& impl, const std::string& dtype, std::int64_t seq) {
  c10::NoGradGuard no_grad;
  at::manual_seed(0);
  const auto type = dtype_named(dtype);
  const at::Tensor q = at::randn({1, kHeads, seq, kHeadDim}).to(type);
  const at::Tensor k = at::randn({1, kHeads, seq, kHeadDim}).to(type);
  const at::Tensor v = at::randn({1, kHeads, seq, kHeadDim}).to(type);
  const double rss_before = status_bytes("VmRSS");
  const bool peak_reset = reset_peak_rss();
  auto start = Clock::now();
  at::Tensor out = attend(impl, q, k, v);
  const double cold = seconds_since(start);
  const double peak = peak_reset ? status_bytes("VmHWM") - rss_before : -1.0;
  out.reset();
  std::vector<double> warm, warm_cpu;
  double spent = 0.0;
  while (warm.size() < 3 || (spent < 2.0 && warm.size() < 15)) {
    touch_and_free(std::max(peak, 0.0));
    const double cpu_start = cpu_seconds();
    start = Clock::now();
    out = attend(impl, q, k, v);
    warm.push_back(seconds_since(start));
    warm_cpu.push_back(cpu_seconds() - cpu_start);
    spent += warm.back();
    out.reset();
  }
  std::printf("%.6f %.6f %.6f %.0f %zu\n", cold, median(warm), median(warm_cpu), peak, warm.size());
  return 0;
}

struct PrefillResult {
  std::string impl, dtype;
  std::int64_t seq;
  bool skipped = false;
  std::string why;
  double cold = 0, warm = 0, warm_cpu = 0, peak = 0;
  std::size_t runs = 0;
};

std::string self_path() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw std::runtime_error("cannot read /proc/self/exe");
  path[n] = '\0';
  return path;
}

PrefillResult spawn_prefill_case(const std::string& impl, const std::string& dtype, std::int64_t seq, int threads) {
  PrefillResult result{impl, dtype, seq};
  std::ostringstream command;
  command << self_path() << " --child " << impl << " " << dtype << " " << seq << " --threads " << threads;
  FILE* child = ::popen(command.str().c_str(), "r");
  if (!child) throw std::runtime_error("popen failed");
  char line[256] = {};
  const bool got = std::fgets(line, sizeof line, child) != nullptr;
  const int status = ::pclose(child);
  if (!got || status != 0) {
    result.skipped = true;
    result.why = "child failed (status " + std::to_string(status) + ")";
    return result;
  }
  std::istringstream(line) >> result.cold >> result.warm >> result.warm_cpu >> result.peak >> result.runs;
  return result;
}

struct CallTimes {
  double wall, cpu;  // medians, seconds
};

template <typename F>
CallTimes median_call_seconds(F&& call, int calls) {
  for (int i = 0; i < 10; ++i) call();
  std::vector<double> wall, cpu;
  for (int i = 0; i < calls; ++i) {
    const double cpu_start = cpu_seconds();
    const auto start = Clock::now();
    call();
    wall.push_back(seconds_since(start));
    cpu.push_back(cpu_seconds() - cpu_start);
  }
  return {median(wall), median(cpu)};
}

std::string megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
  return text;
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> values;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) values.push_back(std::stoll(item));
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int threads = 0;
  std::vector<std::int64_t> seqs = {512, 2048, 8192};
  double eager_max_gb = 6.0;
  std::string json_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--threads" && i + 1 < args.size()) threads = std::stoi(args[++i]);
    else if (args[i] == "--seqs" && i + 1 < args.size()) seqs = parse_list(args[++i]);
    else if (args[i] == "--eager-max-gb" && i + 1 < args.size()) eager_max_gb = std::stod(args[++i]);
    else if (args[i] == "--json" && i + 1 < args.size()) json_path = args[++i];
  }
  if (threads > 0) at::set_num_threads(threads);
  if (args.size() >= 4 && args[0] == "--child") return run_prefill_case(args[1], args[2], std::stoll(args[3]));
  threads = at::get_num_threads();

  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::cout << "# Attention: fused sdpa vs eager (reference_attention)\n\n"
            << "kernel: " << hfcpp::nn::attention_kernel_isa() << "; threads: torch intra-op " << threads
            << ", OMP_NUM_THREADS=" << (omp ? omp : "(unset)") << ", OMP_WAIT_POLICY="
            << (wait_policy ? wait_policy : "(unset)") << ", " << std::thread::hardware_concurrency()
            << " CPUs; load average at start " << load_average() << "\n";
  std::cout << "command: " << argv[0];
  for (const auto& a : args) std::cout << " " << a;
  std::cout << "\n\n## Prefill: batch 1, " << kHeads << " heads x " << kHeadDim << ", causal (fresh process per case)\n\n"
            << "| dtype | seq | impl | cold s | warm s (median, runs) | warm CPU s | peak RSS growth | of which not the output | sdpa speedup (warm wall / CPU) |\n"
            << "|---|---|---|---|---|---|---|---|---|\n";
  std::vector<PrefillResult> results;
  for (const std::string dtype : {"fp32", "bf16"}) {
    for (const std::int64_t seq : seqs) {
      PrefillResult sdpa = spawn_prefill_case("sdpa", dtype, seq, threads);
      // The eager path holds a few float32 [heads, seq, seq] tensors at once.
      const double score_gb = 4.0 * kHeads * seq * seq / 1e9;
      PrefillResult eager{"eager", dtype, seq};
      if (3 * score_gb > eager_max_gb) {
        eager.skipped = true;
        char why[160];
        std::snprintf(why, sizeof why, "skipped: each float32 score tensor is %.1f GB, ~3 live at once > --eager-max-gb %.0f",
                      score_gb, eager_max_gb);
        eager.why = why;
      } else {
        eager = spawn_prefill_case("eager", dtype, seq, threads);
      }
      for (const PrefillResult* r : {&eager, &sdpa}) {
        std::cout << "| " << dtype << " | " << seq << " | " << r->impl << " | ";
        if (r->skipped) {
          std::cout << r->why << " | | | | | |\n";
          continue;
        }
        // The output [1, heads, seq, 64] is new memory in both; what is left is the work space.
        const double output_bytes = static_cast<double>(kHeads * seq * kHeadDim) * (dtype == "bf16" ? 2 : 4);
        char row[256];
        std::snprintf(row, sizeof row, "%.4f | %.4f (%zu) | %.4f | %s | %s | ", r->cold, r->warm, r->runs, r->warm_cpu,
                      megabytes(r->peak).c_str(), megabytes(r->peak - output_bytes).c_str());
        std::cout << row;
        if (r == &sdpa && !eager.skipped && !sdpa.skipped)
          std::printf("%.1fx / %.1fx", eager.warm / sdpa.warm, eager.warm_cpu / sdpa.warm_cpu);
        std::cout << std::flush << " |\n";
      }
      results.push_back(eager);
      results.push_back(sdpa);
    }
  }

  c10::NoGradGuard no_grad;
  std::cout << "\n## Decode: Lq = 1, causal, head_dim " << kHeadDim << " (median of 200 calls, microseconds)\n\n"
            << "| dtype | heads q/kv | Lk | eager us | sdpa us | speedup | eager CPU us | sdpa CPU us |\n"
            << "|---|---|---|---|---|---|---|---|\n";
  std::ostringstream decode_json;
  for (const std::string dtype : {"fp32", "bf16"}) {
    for (const auto& [query_heads, kv_heads] : {std::pair<std::int64_t, std::int64_t>{12, 12}, {32, 4}}) {
      for (const std::int64_t kv_len : {128, 512, 1024, 2048}) {
        const auto type = dtype_named(dtype);
        const at::Tensor q = at::randn({1, query_heads, 1, kHeadDim}).to(type);
        const at::Tensor k = at::randn({1, kv_heads, kv_len, kHeadDim}).to(type);
        const at::Tensor v = at::randn({1, kv_heads, kv_len, kHeadDim}).to(type);
        const CallTimes eager = median_call_seconds([&] { attend("eager", q, k, v); }, 200);
        const CallTimes sdpa = median_call_seconds([&] { attend("sdpa", q, k, v); }, 200);
        std::printf("| %s | %lld/%lld | %lld | %.1f | %.1f | %.1fx | %.1f | %.1f |\n", dtype.c_str(),
                    (long long)query_heads, (long long)kv_heads, (long long)kv_len, eager.wall * 1e6, sdpa.wall * 1e6,
                    eager.wall / sdpa.wall, eager.cpu * 1e6, sdpa.cpu * 1e6);
        decode_json << (decode_json.tellp() > 0 ? "," : "") << "{\"dtype\":\"" << dtype << "\",\"query_heads\":"
                    << query_heads << ",\"kv_heads\":" << kv_heads << ",\"kv_len\":" << kv_len
                    << ",\"eager_s\":" << eager.wall << ",\"sdpa_s\":" << sdpa.wall << ",\"eager_cpu_s\":" << eager.cpu
                    << ",\"sdpa_cpu_s\":" << sdpa.cpu << "}";
      }
    }
  }
  std::cout << "\nload average at end " << load_average() << "\n" << std::flush;

  if (!json_path.empty()) {
    std::ofstream json(json_path);
    json << "{\"kernel\":\"" << hfcpp::nn::attention_kernel_isa() << "\",\"threads\":" << threads << ",\"prefill\":[";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      json << (i ? "," : "") << "{\"impl\":\"" << r.impl << "\",\"dtype\":\"" << r.dtype << "\",\"seq\":" << r.seq
           << ",\"skipped\":" << (r.skipped ? "true" : "false") << ",\"cold_s\":" << r.cold << ",\"warm_s\":" << r.warm
           << ",\"warm_cpu_s\":" << r.warm_cpu << ",\"peak_rss_bytes\":" << r.peak << "}";
    }
    json << "],\"decode\":[" << decode_json.str() << "]}\n";
  }
  return 0;
}
