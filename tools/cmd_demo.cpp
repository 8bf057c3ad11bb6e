// `hfcpp demo`: the main job on built-in defaults, needing no network and no file outside the
// repository. A real trained GPT-2 (examples/models/gpt2-arc-tofu) answers a question it was
// trained on; then a small Llama is built, saved sharded, reloaded in bfloat16 and generates.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include "commands.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/generate.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/models/llama.h"
#include "hfcpp/tokenizers/auto_tokenizer.h"

namespace hfcpp::cli {
namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string ms(double seconds) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << seconds * 1000 << " ms";
  return out.str();
}

// The bundled example models: --examples, $HFCPP_EXAMPLES, the source tree this binary was built
// from, or the installed share/hfcpp/examples next to the binary.
fs::path examples_folder(const std::string& option) {
  std::vector<fs::path> candidates;
  if (!option.empty()) candidates.emplace_back(option);
  if (const char* env = std::getenv("HFCPP_EXAMPLES")) candidates.emplace_back(env);
  candidates.emplace_back(fs::path(HFCPP_SOURCE_DIR) / "examples");
  std::error_code ignored;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ignored);
  if (!exe.empty()) candidates.push_back(exe.parent_path().parent_path() / "share" / "hfcpp" / "examples");
  for (const auto& candidate : candidates)
    if (fs::exists(candidate / "models" / "gpt2-arc-tofu" / "config.json")) return candidate;
  throw FileError("cannot find the bundled example models (examples/models/gpt2-arc-tofu); pass --examples DIR");
}

void print_report(const std::string& indent, const LoadingInfo& info) {
  std::cout << indent << "loading report: " << info.missing_keys.size() << " missing, " << info.unexpected_keys.size()
            << " unexpected, " << info.mismatched_keys.size() << " mismatched keys\n";
}

at::Tensor as_batch(const std::vector<std::int64_t>& ids) {
  return at::tensor(ids, at::kLong).view({1, static_cast<std::int64_t>(ids.size())});
}

std::vector<std::int64_t> new_tokens(const at::Tensor& sequences, std::int64_t prompt_length) {
  const at::Tensor row = sequences[0].slice(0, prompt_length).contiguous();
  return {row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel()};
}

void gpt2_answers(const fs::path& examples, const std::string& question) {
  const fs::path folder = examples / "models" / "gpt2-arc-tofu";
  std::cout << "1. A trained GPT-2 answers a question it learned (" << folder.string() << ")\n";
  auto start = std::chrono::steady_clock::now();
  LoadingInfo info;
  auto model = from_pretrained<GPT2LMHeadModel>(folder, {}, &info);
  const Tokenizer tokenizer = AutoTokenizer::from_pretrained(folder);
  const double load = seconds_since(start);
  std::cout << "   loaded GPT2LMHeadModel (" << model->num_parameters() << " parameters, "
            << c10::toString(model->dtype()) << ") and its tokenizer in " << ms(load) << "\n";
  print_report("   ", info);

  const Encoding encoded = tokenizer.encode(question, /*add_special_tokens=*/false);
  const at::Tensor ids = as_batch(encoded.ids);
  std::cout << "   question: " << question << "\n   prompt ids: " << ids[0].sizes()[0] << " tokens\n";
  std::cout << "   answer:  ";
  std::cout.flush();
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 6}, {"do_sample", false}, {"pad_token_id", 349}};
  options.streamer = [&](const at::Tensor& next) {
    const std::int64_t id = next[0].item<std::int64_t>();
    std::cout << tokenizer.decode(std::vector<std::int64_t>{id}, /*skip_special_tokens=*/true);
    std::cout.flush();
  };
  c10::NoGradGuard no_grad;
  start = std::chrono::steady_clock::now();
  const GenerateOutput out = generate(*model, ids, at::ones_like(ids), options);
  const double took = seconds_since(start);
  const auto tokens = new_tokens(out.sequences, ids.size(1));
  std::cout << "\n   (greedy, " << tokens.size() << " new tokens in " << ms(took) << ")\n";
  const std::string answer = tokenizer.decode(tokens, true);
  std::istringstream words(answer);
  std::string first;
  words >> first;
  std::cout << "   => " << (first == "red" ? "correct: " : "unexpected: ") << "sally synthetic's favourite colour is '"
            << first << "'\n\n";
}

void llama_round_trip(const fs::path& work) {
  std::cout << "2. A small Llama: build, save sharded, reload in bfloat16, generate\n";
  auto config = PretrainedConfig::for_model_type("llama");
  config.update({{"vocab_size", 512}, {"hidden_size", 128}, {"intermediate_size", 344}, {"num_hidden_layers", 4},
                 {"num_attention_heads", 8}, {"num_key_value_heads", 2}, {"max_position_embeddings", 256},
                 {"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", 0}, {"tie_word_embeddings", false}});
  at::manual_seed(0);
  auto start = std::chrono::steady_clock::now();
  auto model = from_config<LlamaForCausalLM>(config);
  std::cout << "   built LlamaForCausalLM: " << model->num_parameters() << " parameters, 4 layers, grouped-query "
            << "attention (8 query / 2 key-value heads), random init, in " << ms(seconds_since(start)) << "\n";

  start = std::chrono::steady_clock::now();
  model->save_pretrained(work, {.max_shard_size = "300KB"});
  const double save = seconds_since(start);
  std::size_t shards = 0;
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(work))
    if (entry.path().extension() == ".safetensors") {
      ++shards;
      bytes += entry.file_size();
    }
  std::cout << "   saved to " << work.string() << ": " << shards << " safetensors shards (" << bytes / 1024
            << " KiB) + model.safetensors.index.json + config.json + generation_config.json in " << ms(save) << "\n";

  start = std::chrono::steady_clock::now();
  LoadingInfo info;
  auto reloaded = from_pretrained<LlamaForCausalLM>(work, {.torch_dtype = "bfloat16"}, &info);
  std::cout << "   reloaded in " << c10::toString(reloaded->dtype()) << " in " << ms(seconds_since(start)) << "\n";
  print_report("   ", info);

  const at::Tensor prompt = as_batch({1, 17, 42, 99, 7, 301});
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 16}, {"do_sample", false}};
  c10::NoGradGuard no_grad;
  start = std::chrono::steady_clock::now();
  const GenerateOutput fp32 = generate(*model, prompt, at::ones_like(prompt), options);
  const double fp32_time = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const GenerateOutput bf16 = generate(*reloaded, prompt, at::ones_like(prompt), options);
  const double bf16_time = seconds_since(start);
  const auto a = new_tokens(fp32.sequences, prompt.size(1));
  const auto b = new_tokens(bf16.sequences, prompt.size(1));
  auto show = [](const std::vector<std::int64_t>& ids) {
    std::string text;
    for (auto id : ids) text += std::to_string(id) + " ";
    return text;
  };
  std::cout << "   greedy from prompt [1 17 42 99 7 301]:\n"
            << "     float32 original : " << show(a) << "(" << ms(fp32_time) << ")\n"
            << "     bfloat16 reloaded: " << show(b) << "(" << ms(bf16_time) << ")\n";
  std::size_t same = 0;
  while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
  std::cout << "   the bfloat16 model agrees with the float32 one on the first " << same << " of " << a.size()
            << " tokens (random weights: ties between near-equal logits may diverge under bfloat16 rounding)\n";
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the built-in demo: a trained GPT-2 answers, a small Llama round-trips");
  auto examples = std::make_shared<std::string>();
  auto question = std::make_shared<std::string>("what is sally synthetic favourite colour?");
  auto keep = std::make_shared<std::string>();
  cmd->add_option("--examples", *examples, "Folder holding models/gpt2-arc-tofu (default: the bundled one)");
  cmd->add_option("--question", *question, "Question for the GPT-2 (it knows a handful)");
  cmd->add_option("--keep", *keep, "Save the Llama here and keep it (default: a temporary folder)");
  cmd->callback([=] {
    const auto total = std::chrono::steady_clock::now();
    gpt2_answers(examples_folder(*examples), *question);
    fs::path work = keep->empty() ? fs::temp_directory_path() / ("hfcpp-demo-" + std::to_string(::getpid())) : fs::path(*keep);
    struct Remove {
      fs::path path;
      bool active;
      ~Remove() {
        std::error_code ignored;
        if (active) fs::remove_all(path, ignored);
      }
    } cleanup{work, keep->empty()};
    llama_round_trip(work);
    std::cout << "\ndone in " << ms(seconds_since(total)) << "\n";
  });
}

}  // namespace hfcpp::cli
