// BERT: from_pretrained of a BERT-large-sized checkpoint against reading its bytes, and the
// BERT-base forward against the same computation written in plain libtorch ops.
//
//   bench_bert [--dir DIR] [--runs N] [--page-cache hfcpp|read]
//
// Generates once (reused afterwards) in DIR a random BERT-large BertForMaskedLM (hidden 1024,
// 24 layers, 16 heads, intermediate 4096, vocab 30522; 1.34 GB fp32 safetensors). Each timed case
// runs in a fresh process (this binary re-executes itself), after warming memory and re-reading
// the files; medians over N runs. Cases:
//   cat            reading model.safetensors to /dev/null
//   load           from_pretrained (zero-copy mmap, the default)
//   load (copy)    from_pretrained with use_mmap = false (weights copied into owned memory)
//   load+forward   from_pretrained and one forward (batch 1, seq 128): every weight is touched
//   forward        the second forward of a loaded model (so cat + forward is the floor)
//   base b8 / b1   BERT-base forward (batch 8 or 1, seq 128) with hfcpp, and with plain libtorch ops
// Cases marked "libtorch's allocator" run with HFCPP_CPU_ALLOCATOR=libtorch (what a plain libtorch
// program gets); the others use hfcpp's caching CPU allocator (hfcpp/cpu_memory.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

#include "common/bench_util.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/nn/module.h"
#include "hfcpp/runtime.h"

namespace fs = std::filesystem;
using namespace hfcpp;
using hfcpp::bench::now_seconds;

namespace {

PretrainedConfig bert_config(bool large) {
  auto config = PretrainedConfig::for_model_type("bert");
  if (large)
    config.update({{"hidden_size", 1024}, {"num_hidden_layers", 24}, {"num_attention_heads", 16},
                   {"intermediate_size", 4096}});
  return config;
}

fs::path ensure_checkpoint(const fs::path& dir) {
  const fs::path folder = dir / "bert-large-mlm";
  if (fs::exists(folder / "model.safetensors")) return folder;
  std::cerr << "generating " << folder << " ...\n";
  at::manual_seed(0);
  auto model = from_config<BertForMaskedLM>(bert_config(true));
  model->save_pretrained(folder);
  return folder;
}

ModelInputs inputs_for(std::int64_t batch, std::int64_t seq, std::int64_t vocab) {
  ModelInputs inputs;
  at::manual_seed(1);
  inputs.input_ids = at::randint(vocab, {batch, seq}, at::kLong);
  inputs.attention_mask = at::ones({batch, seq}, at::kLong);
  return inputs;
}

// BERT-base encoder written directly with libtorch ops over the same weights: the baseline that
// shows what hfcpp's module structure costs.
at::Tensor plain_bert_forward(const StateDict& w, const at::Tensor& ids, const at::Tensor& mask, int layers, int heads) {
  auto W = [&](const std::string& k) { return w[k]; };
  const auto seq = ids.size(1);
  at::Tensor h = at::embedding(W("embeddings.word_embeddings.weight"), ids) +
                 at::embedding(W("embeddings.token_type_embeddings.weight"), at::zeros_like(ids)) +
                 at::embedding(W("embeddings.position_embeddings.weight"), at::arange(seq).unsqueeze(0));
  const auto H = h.size(-1);
  h = at::layer_norm(h, {H}, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), 1e-12);
  const at::Tensor additive = (1.0 - mask.unsqueeze(1).unsqueeze(1).to(at::kFloat)) * -3.4028234663852886e38;
  const auto d = H / heads;
  for (int i = 0; i < layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    auto split = [&](const at::Tensor& x) { return x.view({x.size(0), -1, heads, d}).permute({0, 2, 1, 3}); };
    const at::Tensor q = split(at::linear(h, W(p + "attention.self.query.weight"), W(p + "attention.self.query.bias")));
    const at::Tensor k = split(at::linear(h, W(p + "attention.self.key.weight"), W(p + "attention.self.key.bias")));
    const at::Tensor v = split(at::linear(h, W(p + "attention.self.value.weight"), W(p + "attention.self.value.bias")));
    const at::Tensor probs = at::softmax(at::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(d)) + additive, -1);
    const at::Tensor ctx = at::matmul(probs, v).permute({0, 2, 1, 3}).reshape({h.size(0), seq, H});
    at::Tensor a = at::linear(ctx, W(p + "attention.output.dense.weight"), W(p + "attention.output.dense.bias"));
    a = at::layer_norm(a + h, {H}, W(p + "attention.output.LayerNorm.weight"), W(p + "attention.output.LayerNorm.bias"), 1e-12);
    at::Tensor f = at::gelu(at::linear(a, W(p + "intermediate.dense.weight"), W(p + "intermediate.dense.bias")));
    f = at::linear(f, W(p + "output.dense.weight"), W(p + "output.dense.bias"));
    h = at::layer_norm(f + a, {H}, W(p + "output.LayerNorm.weight"), W(p + "output.LayerNorm.bias"), 1e-12);
  }
  return h;
}

// --- child cases: print "seconds rss_mib" ---

int run_case(std::string name, const fs::path& folder) {
  const std::string libtorch_allocator = "_libtorch_allocator";
  if (name.size() > libtorch_allocator.size() && name.ends_with(libtorch_allocator)) {
    setenv("HFCPP_CPU_ALLOCATOR", "libtorch", 1);  // read when the model is created
    name.resize(name.size() - libtorch_allocator.size());
  }
  configure_threads();  // what from_pretrained applies; the plain and from_config cases get the same
  c10::NoGradGuard no_grad;
  const double rss_before = hfcpp::bench::current_rss_mib();
  double seconds = 0;
  if (name == "load" || name == "load_copy" || name == "load_forward" || name == "forward") {
    FromPretrainedOptions options;
    options.use_mmap = name != "load_copy";
    const ModelInputs inputs = inputs_for(1, 128, 30522);
    const double start = now_seconds();
    auto model = from_pretrained<BertForMaskedLM>(folder, options);
    if (name == "load_forward" || name == "forward") model->forward(inputs);
    seconds = now_seconds() - start;
    if (name == "forward") {
      const double again = now_seconds();
      model->forward(inputs);
      seconds = now_seconds() - again;
    }
  } else {
    // base_hfcpp_b8, base_plain_b8, base_hfcpp_b1, base_plain_b1
    const std::int64_t batch = name.back() == '8' ? 8 : 1;
    at::manual_seed(0);
    auto model = from_config<BertModel>(bert_config(false));
    model->eval();
    const ModelInputs inputs = inputs_for(batch, 128, 30522);
    const StateDict weights = model->state_dict();
    const bool plain = name.find("plain") != std::string::npos;
    auto once = [&] {
      if (plain) plain_bert_forward(weights, inputs.input_ids, inputs.attention_mask, 12, 12);
      else model->forward(inputs);
    };
    once();  // warm-up
    std::vector<double> times;
    for (int i = 0; i < 5; ++i) {
      const double start = now_seconds();
      once();
      times.push_back(now_seconds() - start);
    }
    seconds = hfcpp::bench::median(times);
  }
  std::cout << seconds << " " << hfcpp::bench::peak_rss_mib() << " " << rss_before << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = "/tmp/hfcpp-bench";
  int runs = 5;
  std::string child_case, page_cache = "hfcpp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (arg == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else if (arg == "--case" && i + 1 < argc) child_case = argv[++i];
    else if (arg == "--page-cache" && i + 1 < argc) page_cache = argv[++i];
  }
  const fs::path folder = dir / "bert-large-mlm";
  if (!child_case.empty()) return run_case(child_case, folder);

  fs::create_directories(dir);
  ensure_checkpoint(dir);
  const fs::path weights = folder / "model.safetensors";
  const double gib = static_cast<double>(fs::file_size(weights)) / (1 << 30);
  const std::size_t warm_bytes = fs::file_size(weights) * 2;

  struct Row {
    std::string label;
    double seconds;
    double rss;
  };
  std::vector<Row> rows;
  std::vector<double> cats;
  hfcpp::bench::refill_page_cache({weights}, page_cache);
  for (int r = 0; r < runs; ++r) {
    hfcpp::bench::cat_seconds(weights);
    cats.push_back(hfcpp::bench::cat_seconds(weights));
  }
  rows.push_back({"cat model.safetensors (warm)", hfcpp::bench::median(cats), 0});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"load", "from_pretrained (mmap, default)"},
      {"load_copy", "from_pretrained (use_mmap=false)"},
      {"load_forward", "from_pretrained + first forward (b1 s128)"},
      {"load_forward_libtorch_allocator", "from_pretrained + first forward, libtorch's allocator"},
      {"forward", "second forward (b1 s128)"},
      {"base_hfcpp_b8", "BERT-base forward b8 s128, hfcpp"},
      {"base_plain_b8", "BERT-base forward b8 s128, plain libtorch ops"},
      {"base_hfcpp_b8_libtorch_allocator", "BERT-base forward b8 s128, hfcpp, libtorch's allocator"},
      {"base_plain_b8_libtorch_allocator", "BERT-base forward b8 s128, plain libtorch ops, libtorch's allocator"},
      {"base_hfcpp_b1", "BERT-base forward b1 s128, hfcpp"},
      {"base_plain_b1", "BERT-base forward b1 s128, plain libtorch ops"},
      {"base_plain_b1_libtorch_allocator", "BERT-base forward b1 s128, plain libtorch ops, libtorch's allocator"}};
  for (const auto& [name, label] : cases) {
    std::vector<double> seconds, rss;
    for (int r = 0; r < runs; ++r) {
      hfcpp::bench::warm_memory(warm_bytes);
      hfcpp::bench::cat_seconds(weights);
      std::istringstream out(hfcpp::bench::run_child({argv[0], "--dir", dir.string(), "--case", name}));
      double s = 0, peak = 0, before = 0;
      out >> s >> peak >> before;
      seconds.push_back(s);
      rss.push_back(peak - before);
    }
    rows.push_back({label, hfcpp::bench::median(seconds), hfcpp::bench::median(rss)});
  }

  std::cout << "\nBERT benchmarks: checkpoint " << weights << " (" << gib * 1024 << " MiB)\n"
            << "command: " << argv[0] << " --dir " << dir.string() << " --runs " << runs
            << (page_cache == "hfcpp" ? "" : " --page-cache " + page_cache) << "\n"
            << "page cache: the file dropped, then read back through " << (page_cache == "hfcpp" ? "hfcpp's mapping" : "read()")
            << "\n"
            << "threads: " << describe(configure_threads()) << ", " << hfcpp::bench::thread_settings() << "\n"
            << "CPU allocator: hfcpp's caching allocator unless the case says libtorch's\n\n"
            << "| case | seconds (median of " << runs << ") | peak RSS growth MiB |\n|---|---|---|\n";
  for (const auto& row : rows) {
    std::cout << "| " << row.label << " | " << row.seconds << " | ";
    if (row.rss > 0) std::cout << static_cast<long>(row.rss);
    std::cout << " |\n";
  }
  return 0;
}
