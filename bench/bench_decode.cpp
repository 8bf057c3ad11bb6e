// Decoding speed of a generated ~110M-parameter Llama (hidden 768, intermediate 2048, 12 layers,
// 12 heads, vocab 32000; random init, no files), batch 1, 128 new tokens after a 128-token prompt,
// in float32 and bfloat16:
//   hfcpp      generate() with a static KV cache (greedy, EOS disabled)
//   naive      the same model in a plain loop without a cache: the whole sequence through its
//              libtorch ops again for every token (first and last step timed, the rest interpolated)
//   floor      the time to read the weights of a step once (streamed by every core beside the
//              decoding it is compared with; see decode_workload)
// plus prefill tokens/s. --workload bert times a BERT-base forward (batch 1 and 8, seq 128)
// instead, for the thread-configuration study (scripts/bench_threads.sh).
//
//   bench_decode [--workload decode|bert] [--dtype float32|bfloat16|both] [--runs N]
//                [--prompt N] [--new N] [--attn sdpa|eager] [--skip-naive] [--torch-threads N] [--blas-threads N]
//
// Without thread flags the library's configure_threads() policy applies. Prints a markdown table
// with the command and the thread configuration, then one JSON line per result.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "hfcpp/generation/generate.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/models/llama.h"
#include "hfcpp/nn/module.h"
#include "hfcpp/runtime.h"
#include "../src/util/spin_pool.h"

using namespace hfcpp;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct Options {
  std::string workload = "decode";
  std::string dtype = "both";
  int runs = 3;
  std::int64_t prompt = 128;
  std::int64_t new_tokens = 128;
  int torch_threads = 0;
  int blas_threads = 0;
  std::string attn = "sdpa";
  bool naive = true;
  std::string command;
};

Options parse(int argc, char** argv) {
  Options o;
  o.command = argv[0];
  for (int i = 1; i < argc; ++i) {
    o.command += std::string(" ") + argv[i];
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      o.command += std::string(" ") + argv[i + 1];
      return argv[++i];
    };
    if (arg == "--workload") o.workload = value();
    else if (arg == "--dtype") o.dtype = value();
    else if (arg == "--runs") o.runs = std::stoi(value());
    else if (arg == "--prompt") o.prompt = std::stoll(value());
    else if (arg == "--new") o.new_tokens = std::stoll(value());
    else if (arg == "--torch-threads") o.torch_threads = std::stoi(value());
    else if (arg == "--blas-threads") o.blas_threads = std::stoi(value());
    else if (arg == "--attn") o.attn = value();
    else if (arg == "--skip-naive") o.naive = false;
    else {
      std::cerr << "unknown argument " << arg << "\n";
      std::exit(2);
    }
  }
  return o;
}

PretrainedConfig llama_110m(const std::string& attn) {
  auto config = PretrainedConfig::for_model_type("llama");
  config.update({{"hidden_size", 768}, {"intermediate_size", 2048}, {"num_hidden_layers", 12},
                 {"num_attention_heads", 12}, {"num_key_value_heads", 12}, {"vocab_size", 32000},
                 {"max_position_embeddings", 2048}});
  config.set_attn_implementation(attn);
  return config;
}

std::string load_average() {
  double load[3] = {};
  if (::getloadavg(load, 3) != 3) return "?";
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return text;
}

template <typename Model>
std::shared_ptr<Model> random_model(const PretrainedConfig& config, c10::ScalarType dtype) {
  nn::ParameterScope scope({c10::Device(c10::DeviceType::CPU), dtype, /*initialize=*/true});
  auto model = from_config<Model>(config);
  model->eval();
  return model;
}

// Bytes a decoding step reads: every parameter but the input embeddings (one row each step).
double streamed_weight_bytes(LlamaForCausalLM& model) {
  const void* embeddings = model.model->embed_tokens->weight().data_ptr();
  double bytes = 0;
  for (const auto& p : model.parameters())
    if (p.data_ptr() != embeddings) bytes += static_cast<double>(p.numel() * p.element_size());
  return bytes;
}

struct Row {
  std::string name, dtype, value, note;
  std::string json;
};

std::string fixed(double v, int digits = 1) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

// Sums `count` 8-byte words: AVX-512 loads into four independent sums where the CPU has them (the
// widest loads read fastest here: 62-69 GB/s against 45-57 for the compiler's vectorised loop),
// asking for the lines 8 KiB ahead as the projection kernel does (11% faster than the hardware
// prefetcher alone, read beside it).
__attribute__((target("avx512f"))) std::uint64_t sum_words_avx512(const std::uint64_t* words, std::size_t count) {
  constexpr std::size_t kAheadWords = 8192 / sizeof(std::uint64_t);
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  std::size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    for (std::size_t line = 0; line < 32; line += 8) __builtin_prefetch(words + i + kAheadWords + line, 0, 3);
    s0 = _mm512_add_epi64(s0, _mm512_loadu_si512(words + i));
    s1 = _mm512_add_epi64(s1, _mm512_loadu_si512(words + i + 8));
    s2 = _mm512_add_epi64(s2, _mm512_loadu_si512(words + i + 16));
    s3 = _mm512_add_epi64(s3, _mm512_loadu_si512(words + i + 24));
  }
  std::uint64_t sum = _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
  for (; i < count; ++i) sum += words[i];
  return sum;
}

std::uint64_t sum_words(const std::uint64_t* words, std::size_t count) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return sum_words_avx512(words, count);
  std::uint64_t lanes[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int lane = 0; lane < 8; ++lane) lanes[lane] += words[i + lane];
  for (; i < count; ++i) lanes[0] += words[i];
  std::uint64_t sum = 0;
  for (auto lane : lanes) sum += lane;
  return sum;
}

// Reads every byte of `spans` once, split between the cores (each its half of every span, so all
// stream at once): the time the weights take to stream from memory. Returns seconds. The threads
// are the ones the decoding kernels run on (the spin pool): other threads would compete with that
// pool's workers, which spin for a while after each kernel.
double stream_once(const std::vector<std::pair<const std::uint64_t*, std::size_t>>& spans) {
  const int threads = available_cores();
  std::vector<std::uint64_t> sums(static_cast<std::size_t>(threads));
  const auto start = Clock::now();
  hfcpp::detail::run_on_kernel_threads(threads, [&](int t, int count) {
    for (const auto& [words, words_count] : spans) {
      const std::size_t begin = words_count * t / count, end = words_count * (t + 1) / count;
      sums[t] += sum_words(words + begin, end - begin);
    }
  });
  const double elapsed = seconds(start, Clock::now());
  volatile std::uint64_t sink = 0;
  for (auto s : sums) sink = sink + s;
  return elapsed;
}

// The weights a decoding step reads (every parameter but the input embeddings), as 8-byte words.
std::vector<std::pair<const std::uint64_t*, std::size_t>> streamed_spans(LlamaForCausalLM& model) {
  const void* embeddings = model.model->embed_tokens->weight().data_ptr();
  std::vector<std::pair<const std::uint64_t*, std::size_t>> spans;
  for (const auto& p : model.parameters())
    if (p.data_ptr() != embeddings)
      spans.emplace_back(static_cast<const std::uint64_t*>(p.data_ptr()),
                         static_cast<std::size_t>(p.numel() * p.element_size()) / sizeof(std::uint64_t));
  return spans;
}

// The host's memory bandwidth drifts (30-65 GB/s within minutes on the project's VM), so the floor
// is measured beside the decoding it is compared with: every kSegment tokens, inside the streaming
// callback (outside the timed token intervals), the model's own weights are streamed once. Each
// segment's mean token time is divided by the mean of the two streaming times around it; the
// table reports the median of these ratios over all runs.
constexpr std::size_t kSegment = 16;

void decode_workload(const Options& o, c10::ScalarType dtype, std::vector<double>& bandwidths, std::vector<Row>& rows) {
  const std::string dtype_name = dtype == at::kFloat ? "float32" : "bfloat16";
  at::manual_seed(0);
  auto model = random_model<LlamaForCausalLM>(llama_110m(o.attn), dtype);
  const at::Tensor prompt = at::randint(3, 32000, {1, o.prompt}, at::kLong);
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", o.new_tokens}, {"eos_token_id", nullptr}, {"pad_token_id", 0},
                               {"cache_implementation", "static"}};
  const auto spans = streamed_spans(*model);
  // stamps[i]: token i arrived; resumed[i]: decoding went on after it (later when a probe ran).
  std::vector<Clock::time_point> stamps, resumed;
  std::vector<double> probes;  // streaming seconds, one after every kSegment-th token
  bool probing = false;
  options.streamer = [&](const at::Tensor&) {
    stamps.push_back(Clock::now());
    if (probing && (stamps.size() - 1) % kSegment == 0) probes.push_back(stream_once(spans));
    resumed.push_back(Clock::now());
  };
  {  // warm-up: page in the weights, size the allocator
    GenerateOptions warm = options;
    warm.generation_kwargs["max_new_tokens"] = 4;
    generate(*model, prompt, {}, warm);
  }
  const double bytes = streamed_weight_bytes(*model);
  std::vector<double> prefill, decode, floor_ratios, stream_seconds;
  probing = true;
  for (int run = 0; run < o.runs; ++run) {
    stamps.clear();
    resumed.clear();
    probes.clear();
    const auto start = Clock::now();
    generate(*model, prompt, {}, options);
    prefill.push_back(seconds(start, stamps.front()));
    double decoding = 0;
    for (std::size_t i = 1; i < stamps.size(); ++i) decoding += seconds(resumed[i - 1], stamps[i]);
    decode.push_back(static_cast<double>(stamps.size() - 1) / decoding);
    for (std::size_t segment = 0; segment + 1 < probes.size(); ++segment) {
      double segment_time = 0;
      for (std::size_t i = segment * kSegment + 1; i <= (segment + 1) * kSegment; ++i)
        segment_time += seconds(resumed[i - 1], stamps[i]);
      floor_ratios.push_back(segment_time / kSegment / ((probes[segment] + probes[segment + 1]) / 2));
    }
    stream_seconds.insert(stream_seconds.end(), probes.begin(), probes.end());
  }
  probing = false;
  for (const double t : stream_seconds) bandwidths.push_back(bytes / t / 1e9);
  // The same generate() with the layers as libtorch ops (no decode kernels), for comparison.
  std::vector<double> eager;
  model->model->use_decode_kernels = false;
  for (int run = 0; run < std::max(1, o.runs / 2); ++run) {
    stamps.clear();
    generate(*model, prompt, {}, options);
    eager.push_back(static_cast<double>(stamps.size() - 1) / seconds(stamps.front(), stamps.back()));
  }
  model->model->use_decode_kernels = true;
  const double eager_rate = median(eager);
  const double decode_rate = median(decode);
  const double prefill_s = median(prefill);
  const double floor_rate = 1.0 / median(stream_seconds);
  const double bandwidth = bytes * floor_rate / 1e9;
  const double floor_ratio = median(floor_ratios);
  const auto [ratio_low, ratio_high] = std::minmax_element(floor_ratios.begin(), floor_ratios.end());

  // The naive loop: no cache, the whole sequence through the model (its libtorch ops) for every
  // token, greedy. Step i costs a forward of prompt + i tokens; running all steps would take
  // minutes, so the first and the last step are timed (median of --runs) and the steps between
  // are interpolated linearly (the cost is dominated by matmuls linear in the length).
  c10::NoGradGuard no_grad;
  auto naive_step_seconds = [&](std::int64_t length) {
    const at::Tensor ids = at::randint(3, 32000, {1, length}, at::kLong);
    std::vector<double> times;
    for (int run = 0; run <= std::max(1, o.runs); ++run) {
      ModelInputs inputs;
      inputs.input_ids = ids;
      inputs.use_cache = false;
      const auto start = Clock::now();
      const at::Tensor next = model->forward(inputs).logits().select(1, -1).argmax(-1, true);
      [[maybe_unused]] const at::Tensor grown = at::cat({ids, next}, 1);  // what the loop does with the token
      if (run > 0) times.push_back(seconds(start, Clock::now()));  // the first run warms up
    }
    return median(times);
  };
  const double naive_first = o.naive ? naive_step_seconds(o.prompt) : 0.0;
  const double naive_last = o.naive && o.new_tokens > 1 ? naive_step_seconds(o.prompt + o.new_tokens - 1) : naive_first;
  const double naive_rate = o.naive ? 2.0 / (naive_first + naive_last) : 0.0;

  rows.push_back({"decode, hfcpp (static cache)", dtype_name, fixed(decode_rate) + " tok/s",
                  fixed(floor_ratio, 2) + "x the floor's time per token (median over " +
                      std::to_string(floor_ratios.size()) + " segments of " + std::to_string(kSegment) +
                      " tokens, each against the weights streamed beside it; range " + fixed(*ratio_low, 2) + "-" +
                      fixed(*ratio_high, 2) + ")",
                  ""});
  rows.push_back({"decode, hfcpp layer ops (no decode kernels)", dtype_name, fixed(eager_rate) + " tok/s",
                  fixed(eager_rate / floor_rate * 100, 0) + "% of floor", ""});
  if (o.naive)
    rows.push_back({"decode, naive loop (no cache)", dtype_name, fixed(naive_rate) + " tok/s",
                  "full forward per token: " + fixed(naive_first, 3) + " s at " + std::to_string(o.prompt) +
                      " tokens, " + fixed(naive_last, 3) + " s at " + std::to_string(o.prompt + o.new_tokens - 1) +
                      "; mean over the " + std::to_string(o.new_tokens) + " steps",
                  ""});
  rows.push_back({"decode floor", dtype_name, fixed(floor_rate) + " tok/s",
                  fixed(bytes / 1e6, 0) + " MB of weights per token, streamed once in " +
                      fixed(1e3 / floor_rate, 2) + " ms (" + fixed(bandwidth) + " GB/s; median of " +
                      std::to_string(stream_seconds.size()) + " passes between the segments)", ""});
  rows.push_back({"prefill, hfcpp", dtype_name, fixed(static_cast<double>(o.prompt) / prefill_s, 0) + " tok/s",
                  fixed(prefill_s, 3) + " s for " + std::to_string(o.prompt) + " tokens (incl. first token)", ""});
  std::ostringstream json;
  json << "{\"workload\":\"decode\",\"dtype\":\"" << dtype_name << "\",\"decode_tok_s\":" << decode_rate
       << ",\"eager_tok_s\":" << eager_rate << ",\"prefill_s\":" << prefill_s << ",\"naive_tok_s\":" << naive_rate << ",\"floor_tok_s\":" << floor_rate
       << ",\"floor_ratio\":" << floor_ratio << ",\"weight_bytes\":" << bytes << "}";
  rows.back().json = json.str();
}

void bert_workload(const Options& o, std::vector<Row>& rows) {
  auto config = PretrainedConfig::for_model_type("bert");  // BERT-base defaults
  config.set_attn_implementation("eager");
  at::manual_seed(0);
  auto model = random_model<BertModel>(config, at::kFloat);
  c10::NoGradGuard no_grad;
  std::ostringstream json;
  json << "{\"workload\":\"bert\"";
  for (const std::int64_t batch : {1, 8}) {
    ModelInputs inputs;
    inputs.input_ids = at::randint(1000, 30000, {batch, 128}, at::kLong);
    model->forward(inputs);  // warm-up
    std::vector<double> times;
    for (int run = 0; run < o.runs; ++run) {
      const auto start = Clock::now();
      model->forward(inputs);
      times.push_back(seconds(start, Clock::now()));
    }
    const double t = median(times);
    rows.push_back({"BERT-base forward, batch " + std::to_string(batch) + " x seq 128", "float32", fixed(t, 3) + " s", "",
                    ""});
    json << ",\"b" << batch << "_s\":" << t;
  }
  json << "}";
  rows.back().json = json.str();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (o.torch_threads > 0 || o.blas_threads > 0) set_threads(o.torch_threads, o.blas_threads);
  else configure_threads();
  const ThreadConfig threads = current_thread_config();
  const std::string load_at_start = load_average();

  std::vector<Row> rows;
  double bandwidth = 0;
  if (o.workload == "decode") {
    std::vector<double> bandwidths;
    if (o.dtype == "float32" || o.dtype == "both") decode_workload(o, at::kFloat, bandwidths, rows);
    if (o.dtype == "bfloat16" || o.dtype == "both") decode_workload(o, at::kBFloat16, bandwidths, rows);
    bandwidth = bandwidths.empty() ? 0.0 : median(bandwidths);
  } else if (o.workload == "bert") {
    bert_workload(o, rows);
  } else {
    std::cerr << "unknown workload " << o.workload << " (decode or bert)\n";
    return 2;
  }

  std::cout << "\n`" << o.command << "`  \n";
  std::cout << "threads: " << describe(threads) << "; cores " << available_cores() << "; median of " << o.runs
            << " runs";
  if (bandwidth > 0) std::cout << "; memory read bandwidth " << fixed(bandwidth) << " GB/s (streaming the weights, median over all passes)";
  if (o.workload == "decode") std::cout << "; attn_implementation " << o.attn;
  std::cout << "; load average " << load_at_start << " at start, " << load_average() << " at end";
  std::cout << "\n\n| case | dtype | result | note |\n|---|---|---|---|\n";
  for (const auto& r : rows) std::cout << "| " << r.name << " | " << r.dtype << " | " << r.value << " | " << r.note << " |\n";
  std::cout << "\n";
  for (const auto& r : rows)
    if (!r.json.empty()) {
      std::string line = r.json;
      line.insert(line.size() - 1, ",\"threads\":\"" + describe(threads) + "\",\"bandwidth_gbs\":" + std::to_string(bandwidth));
      std::cout << "JSON " << line << "\n";
    }
  return 0;
}
