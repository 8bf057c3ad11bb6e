// Loading a ~2 GB checkpoint through open_tensor_source() against `cat FILE >/dev/null`.
//
//   bench_load [--dir DIR] [--runs N] [--layers L] [--page-cache hfcpp|read]
//
// Generates (once, reused afterwards) a Llama-shaped fp32 checkpoint in DIR as one safetensors
// file, 500 MB safetensors shards and (when this build writes .bin) one pytorch_model.bin. Then,
// for each, times in fresh processes (this binary re-executes itself per run):
//   cat          cat FILES >/dev/null
//   view+touch   load() every tensor (zero-copy views of the mapping) and read one byte per 4 KiB page
//   view+sum     load() every tensor and sum every 8-byte word (reads every byte)
//   clone+touch  load() then clone() every tensor (owned memory, what a copy costs), touch the pages
// following DESIGN.md's protocol: before every timed run a buffer the size of the working set is
// touched and freed (warm memory), the files are re-read right before the run and their page-cache
// residency checked with mincore(). Reports the median time, GB/s and the child's peak RSS
// (getrusage ru_maxrss) and its growth over the RSS it had before opening the checkpoint.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hfcpp/dtype.h"
#include "common/bench_util.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/modeling/convert.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using hfcpp::bench::median;

constexpr std::size_t kPage = 4096;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------- checkpoint generation

struct Checkpoint {
  std::string name;                // "safetensors", "sharded safetensors", "bin"
  fs::path weights;                // what open_tensor_source() opens
  std::vector<fs::path> files;     // what cat reads
  std::uint64_t bytes = 0;         // sum of file sizes
};

// A Llama-shaped state dict (hidden 2048, intermediate 5632, vocab 32000): 7 layers are 491M
// parameters, 1.96 GB in fp32.
hfcpp::NamedTensors llama_like(int layers) {
  const std::int64_t hidden = 2048, intermediate = 5632, vocab = 32000;
  hfcpp::NamedTensors tensors;
  at::manual_seed(0);
  auto add = [&](const std::string& name, std::vector<std::int64_t> shape) {
    tensors.emplace_back(name, at::randn(shape) * 0.02);
  };
  add("model.embed_tokens.weight", {vocab, hidden});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) add(p + "self_attn." + proj + ".weight", {hidden, hidden});
    add(p + "mlp.gate_proj.weight", {intermediate, hidden});
    add(p + "mlp.up_proj.weight", {intermediate, hidden});
    add(p + "mlp.down_proj.weight", {hidden, intermediate});
    add(p + "input_layernorm.weight", {hidden});
    add(p + "post_attention_layernorm.weight", {hidden});
  }
  add("model.norm.weight", {hidden});
  add("lm_head.weight", {vocab, hidden});
  return tensors;
}

std::vector<fs::path> weights_files(const fs::path& weights) {
  return hfcpp::open_tensor_source(weights)->files();
}

std::vector<Checkpoint> prepare_checkpoints(const fs::path& dir, int layers) {
  const fs::path single = dir / "single";
  const fs::path sharded = dir / "sharded";
  const fs::path bin = dir / "bin";
  if (!fs::exists(single / "model.safetensors")) {
    std::cerr << "generating " << single / "model.safetensors" << " (" << layers << " layers)...\n";
    fs::create_directories(single);
    hfcpp::save_safetensors(llama_like(layers), single / "model.safetensors",
                            std::map<std::string, std::string>{{"format", "pt"}});
  }
  if (!fs::exists(sharded / "model.safetensors.index.json")) {
    std::cerr << "writing 500MB shards to " << sharded << "...\n";
    hfcpp::convert_checkpoint(single, sharded, {.max_shard_size = 500'000'000});
  }
  std::vector<Checkpoint> out = {{"safetensors", single / "model.safetensors", {}, 0},
                                 {"safetensors, 500MB shards", sharded / "model.safetensors.index.json", {}, 0}};
  {
    if (!fs::exists(bin / "pytorch_model.bin")) {
      std::cerr << "writing " << bin / "pytorch_model.bin" << "...\n";
      hfcpp::convert_checkpoint(single, bin, {.max_shard_size = 100'000'000'000, .format = hfcpp::CheckpointFormat::kTorchBin});
    }
    out.push_back({"pytorch .bin", bin / "pytorch_model.bin", {}, 0});
  }
  for (auto& c : out) {
    c.files = weights_files(c.weights);
    for (const auto& f : c.files) c.bytes += fs::file_size(f);
  }
  return out;
}

// ---------------------------------------------------------------- the measured child

std::uint64_t rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// One byte per page: enough to fault every page in, no more.
std::uint64_t touch_pages(const at::Tensor& t) {
  const auto* p = static_cast<const volatile std::uint8_t*>(t.data_ptr());
  const std::size_t n = t.numel() * t.element_size();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; i += kPage) sum += p[i];
  if (n) sum += p[n - 1];
  return sum;
}

// Every byte: a sum of 8-byte words (the tail bytewise).
std::uint64_t sum_words(const at::Tensor& t) {
  const auto* p = static_cast<const std::uint8_t*>(t.data_ptr());
  const std::size_t n = t.numel() * t.element_size();
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    sum += w;
  }
  for (; i < n; ++i) sum += p[i];
  return sum;
}

int run_child(const std::string& mode, const fs::path& weights) {
  const std::uint64_t baseline_kb = rss_kb();
  const auto start = Clock::now();
  std::uint64_t checksum = 0;
  std::size_t count = 0;
  {
    const auto source = hfcpp::open_tensor_source(weights);
    std::vector<at::Tensor> kept;  // a loaded model keeps its tensors: so does this
    kept.reserve(source->tensors().size());
    for (const auto& meta : source->tensors()) {
      at::Tensor t = source->load(meta.key);
      if (mode == "clone+touch") t = t.clone();
      checksum += mode == "view+sum" ? sum_words(t) : touch_pages(t);
      kept.push_back(std::move(t));
      ++count;
    }
    const double elapsed = seconds_since(start);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"seconds\": %.6f, \"maxrss_kb\": %ld, \"baseline_kb\": %llu, \"tensors\": %zu, \"checksum\": %llu}\n",
                elapsed, usage.ru_maxrss, static_cast<unsigned long long>(baseline_kb), count,
                static_cast<unsigned long long>(checksum));
  }
  return 0;
}

// ---------------------------------------------------------------- the driver

struct ChildResult {
  double wall = 0;
  std::string out;
  long maxrss_kb = 0;
};

ChildResult spawn(const std::vector<std::string>& argv, bool discard_stdout) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (discard_stdout) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
    } else {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
    }
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::_Exit(127);
  }
  ::close(pipe_fds[1]);
  ChildResult result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) result.out.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  result.wall = seconds_since(start);
  result.maxrss_kb = usage.ru_maxrss;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("child failed: " + argv[0] + " " + argv[1]);
  return result;
}

// The fraction of the files' pages in the page cache (what fincore reports).
double residency(const std::vector<fs::path>& files) {
  std::uint64_t resident = 0, total = 0;
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY);
    const std::size_t size = fs::file_size(f);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) continue;
    std::vector<unsigned char> pages((size + kPage - 1) / kPage);
    ::mincore(map, size, pages.data());
    for (unsigned char page : pages) resident += page & 1;
    total += pages.size();
    ::munmap(map, size);
  }
  return total ? static_cast<double>(resident) / static_cast<double>(total) : 0;
}

// The 1-minute load average: other work on the machine skews every timing, so the table says it.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

double json_number(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) throw std::runtime_error("no " + key + " in " + json);
  return std::stod(json.substr(at + key.size() + 4));
}

struct Row {
  std::string checkpoint, method;
  std::uint64_t bytes;
  double seconds, cat_seconds;
  double peak_mib, growth_mib;
  double min_residency;
};

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "child") return run_child(args[1], args[2]);

  fs::path dir = "/tmp/hfcpp-bench-load";
  int runs = 5, layers = 7;
  std::string page_cache = "hfcpp";
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--dir") dir = args[i + 1];
    else if (args[i] == "--runs") runs = std::stoi(args[i + 1]);
    else if (args[i] == "--layers") layers = std::stoi(args[i + 1]);
    else if (args[i] == "--page-cache" && (args[i + 1] == "hfcpp" || args[i + 1] == "read")) page_cache = args[i + 1];
    else {
      std::cerr << "usage: bench_load [--dir DIR] [--runs N] [--layers L] [--page-cache hfcpp|read]\n";
      return 2;
    }
  }
  const std::string self = fs::canonical("/proc/self/exe").string();
  const auto checkpoints = prepare_checkpoints(dir, layers);

  const std::string load_before = load_average();
  std::vector<Row> rows;
  for (const auto& c : checkpoints) {
    std::vector<std::string> cat = {"cat"};
    for (const auto& f : c.files) cat.push_back(f.string());
    std::map<std::string, std::vector<double>> times, peaks, growths;
    double min_residency = 1.0;
    hfcpp::bench::refill_page_cache(c.files, page_cache);
    const std::vector<std::string> methods = {"cat", "view+touch", "view+sum", "clone+touch"};
    // Methods interleaved run by run, so drift on the host affects all alike.
    for (int run = 0; run < runs; ++run)
      for (const auto& method : methods) {
        hfcpp::bench::warm_memory(method == "clone+touch" ? 2 * c.bytes : c.bytes);
        for (const auto& f : c.files) hfcpp::bench::cat_seconds(f);
        min_residency = std::min(min_residency, residency(c.files));
        if (method == "cat") {
          const ChildResult r = spawn(cat, /*discard_stdout=*/true);
          times[method].push_back(r.wall);
          peaks[method].push_back(r.maxrss_kb / 1024.0);
          growths[method].push_back(0);
        } else {
          const ChildResult r = spawn({self, "child", method, c.weights.string()}, false);
          times[method].push_back(json_number(r.out, "seconds"));
          peaks[method].push_back(json_number(r.out, "maxrss_kb") / 1024.0);
          growths[method].push_back((json_number(r.out, "maxrss_kb") - json_number(r.out, "baseline_kb")) / 1024.0);
        }
        std::cerr << c.name << " " << method << " run " << run + 1 << ": " << times[method].back() << " s\n";
      }
    for (const auto& method : methods)
      rows.push_back({c.name, method, c.bytes, median(times[method]), median(times["cat"]), median(peaks[method]),
                      median(growths[method]), min_residency});
  }

  const char* omp = std::getenv("OMP_NUM_THREADS");
  std::cout << "\nCheckpoint: " << layers << "-layer Llama-shaped fp32 state dict in " << dir.string() << "; "
            << runs << " runs per row, medians; page cache filled by " << (page_cache == "hfcpp" ? "hfcpp's mapping" : "read()")
            << " after dropping the files from it; warm memory, files re-read before each run (page-cache residency "
            << "before the runs >= " << fixed(100 * std::min_element(rows.begin(), rows.end(), [](auto& a, auto& b) {
                 return a.min_residency < b.min_residency; })->min_residency, 1)
            << "%).\nThreads: torch intra-op " << at::get_num_threads() << ", inter-op " << at::get_num_interop_threads()
            << ", OMP_NUM_THREADS=" << (omp ? omp : "(unset)") << ", " << std::thread::hardware_concurrency()
            << " CPUs, load average " << load_before << " before / " << load_average()
            << " after. touch = one byte read per 4 KiB page; sum = every 8-byte word summed (single thread).\n\n";
  std::cout << "| checkpoint | size | method | median s | GB/s | x cat | peak RSS MiB | RSS growth MiB | growth / size |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const double gb = r.bytes / 1e9;
    std::cout << "| " << r.checkpoint << " | " << fixed(gb, 2) << " GB | " << r.method << " | " << fixed(r.seconds, 3)
              << " | " << fixed(gb / r.seconds, 2) << " | " << fixed(r.seconds / r.cat_seconds, 2) << " | "
              << fixed(r.peak_mib, 0) << " | " << (r.method == "cat" ? "-" : fixed(r.growth_mib, 0)) << " | "
              << (r.method == "cat" ? "-" : fixed(r.growth_mib * 1048576.0 / r.bytes, 2)) << " |\n";
  }
  std::cout << "\nReproduce: " << self << " --dir " << dir.string() << " --runs " << runs << " --layers " << layers << (page_cache == "hfcpp" ? "" : " --page-cache read")
            << "  (or scripts/bench_load.sh)\n";
  return 0;
}
