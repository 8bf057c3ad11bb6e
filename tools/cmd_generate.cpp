// hfcpp generate MODEL (--prompt TEXT... | --input-ids IDS): text generation with a causal LM.
// One prompt streams its continuation as it is generated; several form a left-padded batch. The
// last line reports load time and prompt / decode throughput; --json prints ids and text per
// prompt instead.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/generate.h"
#include "model_args.h"

namespace hfcpp::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct GenerateArguments {
  LoadArguments load;
  std::vector<std::string> prompts;
  std::string input_ids;
  std::int64_t max_new_tokens = 0;
  double temperature = 1.0;
  std::int64_t top_k = 0;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  std::int64_t num_beams = 1;
  std::uint64_t seed = 0;
  bool do_sample = false;
  bool no_special_tokens = false;
  bool json = false;
  CLI::App* command = nullptr;  // to tell given options from defaults

  bool given(const std::string& option) const { return command->count(option) > 0; }
};

// generate(**kwargs) from the options the user gave; the model's generation_config decides the rest.
json generation_kwargs(const GenerateArguments& args) {
  json kwargs = json::object();
  if (args.given("--max-new-tokens")) kwargs["max_new_tokens"] = args.max_new_tokens;
  // A sampling knob asks for sampling; --temperature 0 asks for greedy decoding (as in llama.cpp).
  const bool sampling_option = args.given("--temperature") || args.given("--top-k") || args.given("--top-p");
  if (args.given("--temperature") && args.temperature == 0.0) {
    kwargs["do_sample"] = false;
  } else if (args.do_sample || sampling_option) {
    kwargs["do_sample"] = true;
    if (args.given("--temperature")) kwargs["temperature"] = args.temperature;
  }
  if (args.given("--top-k")) kwargs["top_k"] = args.top_k;
  if (args.given("--top-p")) kwargs["top_p"] = args.top_p;
  if (args.given("--repetition-penalty")) kwargs["repetition_penalty"] = args.repetition_penalty;
  if (args.given("--num-beams")) kwargs["num_beams"] = args.num_beams;
  return kwargs;
}

// Prints the continuation of one sequence as tokens arrive. Decoding the whole continuation each
// time (not token by token) keeps multi-byte characters and word-piece joins right; text is held
// back after the last space, because the next token may change how the tail decodes
// (clean-up of " ." and friends), and while it ends in an incomplete UTF-8 sequence.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void add(std::int64_t id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_, /*skip_special_tokens=*/true);
    if (text.ends_with("\xEF\xBF\xBD")) return;  // U+FFFD: a character split across tokens
    const auto space = text.rfind(' ');
    if (space != std::string::npos && space + 1 > printed_) print(text, space + 1);
  }
  void finish() {
    const std::string text = tokenizer_.decode(ids_, /*skip_special_tokens=*/true);
    print(text, text.size());
  }

 private:
  void print(const std::string& text, std::size_t end) {
    if (end > printed_) std::cout << text.substr(printed_, end - printed_) << std::flush;
    printed_ = std::max(printed_, end);
  }
  const Tokenizer& tokenizer_;
  std::vector<std::int64_t> ids_;
  std::size_t printed_ = 0;
};

struct Prompt {
  std::optional<std::string> text;  // as given, or decoded from --input-ids
  std::vector<std::int64_t> ids;
};

std::vector<Prompt> make_prompts(const GenerateArguments& args, const std::optional<Tokenizer>& tokenizer) {
  std::vector<Prompt> prompts;
  if (!args.prompts.empty()) {
    for (const auto& text : args.prompts) {
      Prompt prompt{text, tokenizer->encode(text, !args.no_special_tokens).ids};
      if (prompt.ids.empty()) throw ValueError("--prompt \"" + text + "\" encodes to no tokens");
      prompts.push_back(std::move(prompt));
    }
    return prompts;
  }
  for (auto& row : parse_id_rows(args.input_ids, "--input-ids")) {
    Prompt prompt{std::nullopt, std::move(row)};
    if (tokenizer) prompt.text = tokenizer->decode(prompt.ids, /*skip_special_tokens=*/false);
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

void check_ids(const std::vector<Prompt>& prompts, const PretrainedConfig& config) {
  if (!config.has("vocab_size")) return;
  const std::int64_t vocab = config.vocab_size();
  for (const auto& prompt : prompts)
    for (const std::int64_t id : prompt.ids)
      if (id < 0 || id >= vocab)
        throw ValueError("--input-ids: " + std::to_string(id) + " is not a token id of this model (vocab_size " +
                         std::to_string(vocab) + ")");
}

// The pad id for the batch: the tokenizer's, else the generation config's, else the first EOS
// (Transformers' fallback, set here so it does not warn), else 0.
std::int64_t pad_id(const GenerationConfig& config, const std::optional<Tokenizer>& tokenizer) {
  if (config.pad_token_id()) return *config.pad_token_id();
  if (tokenizer && tokenizer->pad_token_id()) return *tokenizer->pad_token_id();
  const auto eos = config.eos_token_ids();
  return eos.empty() ? 0 : eos.front();
}

// The new tokens of one row up to and including the first EOS (later ones are padding).
std::vector<std::int64_t> continuation(const at::Tensor& row, std::int64_t prompt_length,
                                       const std::vector<std::int64_t>& eos) {
  std::vector<std::int64_t> ids = to_ids(row.slice(0, prompt_length));
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (std::find(eos.begin(), eos.end(), ids[i]) != eos.end()) {
      ids.resize(i + 1);
      break;
    }
  return ids;
}

std::string rate(double tokens, double seconds) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << (seconds > 0 ? tokens / seconds : 0.0) << " tokens/s";
  return out.str();
}

std::string ids_text(const std::vector<std::int64_t>& ids) {
  std::string text;
  for (const auto id : ids) text += " " + std::to_string(id);
  return text;
}

void run(const GenerateArguments& args) {
  if (args.prompts.empty() == args.input_ids.empty()) throw ValueError("give either --prompt or --input-ids");
  const auto folder = model_folder(args.load.model);
  const auto load_start = Clock::now();
  auto model = load_model(args.load, /*causal_lm=*/true);
  const std::optional<Tokenizer> tokenizer = load_tokenizer(folder, /*required=*/!args.prompts.empty());
  const double load = seconds_since(load_start);

  const std::vector<Prompt> prompts = make_prompts(args, tokenizer);
  check_ids(prompts, model->config());
  std::vector<std::vector<std::int64_t>> rows;
  for (const auto& prompt : prompts) rows.push_back(prompt.ids);

  GenerateOptions options;
  options.generation_kwargs = generation_kwargs(args);
  if (args.given("--seed")) options.seed = args.seed;
  std::size_t longest = 0;
  for (const auto& row : rows) longest = std::max(longest, row.size());
  const auto prompt_length = static_cast<std::int64_t>(longest);
  options.generation_kwargs["pad_token_id"] = pad_id(
      model->generation_config ? *model->generation_config : GenerationConfig::from_model_config(model->config()),
      tokenizer);
  const GenerationConfig config = resolve_generation_config(*model, options, prompt_length);
  if (args.given("--max-new-tokens") && model->config().has("max_position_embeddings") &&
      !model->config().at("max_position_embeddings").is_null()) {
    const auto positions = model->config().get<std::int64_t>("max_position_embeddings");
    if (prompt_length + args.max_new_tokens > positions)
      throw ValueError("--max-new-tokens " + std::to_string(args.max_new_tokens) + " with a " +
                       std::to_string(prompt_length) + "-token prompt exceeds the " + std::to_string(positions) +
                       " positions the model handles (max_position_embeddings)");
  }
  const auto batch = left_pad(rows, options.generation_kwargs["pad_token_id"].get<std::int64_t>());
  const std::vector<std::int64_t> eos = config.eos_token_ids();

  // One prompt streams; the streamer also times the first step (the prompt) apart from the rest.
  const bool stream_text = !args.json && rows.size() == 1 && config.num_beams() == 1;
  std::optional<TextStream> text_stream;
  if (stream_text && tokenizer) text_stream.emplace(*tokenizer);
  Clock::time_point first_step;
  std::int64_t steps = 0;
  if (config.num_beams() == 1)
    options.streamer = [&](const at::Tensor& next) {
      if (steps++ == 0) first_step = Clock::now();
      if (!stream_text) return;
      // The prompt goes out with the first token, so a run that fails in validation prints nothing.
      if (steps == 1) std::cout << prompts[0].text.value_or(ids_text(prompts[0].ids).substr(1));
      const std::int64_t id = next[0].item<std::int64_t>();
      if (std::find(eos.begin(), eos.end(), id) != eos.end()) return;
      if (text_stream)
        text_stream->add(id);
      else
        std::cout << " " << id << std::flush;
    };

  c10::NoGradGuard no_grad;
  const auto start = Clock::now();
  const GenerateOutput output = generate(*model, batch.input_ids, batch.attention_mask, options);
  const auto end = Clock::now();
  if (text_stream) text_stream->finish();

  const double prompt_tokens = batch.attention_mask.sum().item<double>();
  const double total = std::chrono::duration<double>(end - start).count();
  const double prefill = steps > 0 ? std::chrono::duration<double>(first_step - start).count() : total;
  const double decode = total - prefill;
  const double decode_tokens = static_cast<double>(std::max<std::int64_t>(steps - 1, 0) * output.sequences.size(0));
  const std::int64_t new_tokens = output.sequences.size(1) - prompt_length;

  std::vector<std::vector<std::int64_t>> generated;
  for (std::int64_t i = 0; i < output.sequences.size(0); ++i)
    generated.push_back(continuation(output.sequences[i], prompt_length, eos));
  // num_return_sequences in the generation config gives several rows per prompt, in prompt order.
  const std::size_t per_prompt = std::max<std::size_t>(1, generated.size() / prompts.size());

  if (args.json) {
    nlohmann::ordered_json out;
    out["class"] = model->class_info().name;
    out["dtype"] = torch_dtype_name(model->dtype());
    out["results"] = nlohmann::json::array();
    for (std::size_t i = 0; i < generated.size(); ++i) {
      const Prompt& prompt = prompts[i / per_prompt];
      nlohmann::ordered_json result;
      result["prompt"] = prompt.text ? nlohmann::json(*prompt.text) : nlohmann::json();
      result["prompt_ids"] = prompt.ids;
      result["generated_ids"] = generated[i];
      result["text"] = tokenizer ? nlohmann::json(tokenizer->decode(generated[i], true)) : nlohmann::json();
      out["results"].push_back(result);
    }
    out["timings"] = {{"load_s", load},
                      {"prompt_tokens", static_cast<std::int64_t>(prompt_tokens)},
                      {"prompt_s", prefill},
                      {"decode_tokens", static_cast<std::int64_t>(decode_tokens)},
                      {"decode_s", decode}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (!stream_text) {
    for (std::size_t i = 0; i < generated.size(); ++i) {
      const Prompt& prompt = prompts[i / per_prompt];
      if (generated.size() > 1) std::cout << "[" << i << "] ";
      if (tokenizer)
        std::cout << prompt.text.value_or("") << tokenizer->decode(generated[i], true) << "\n";
      else
        std::cout << ids_text(prompt.ids).substr(1) << ids_text(generated[i]) << "\n";
    }
  } else {
    std::cout << "\n";
  }
  std::ostringstream stats;
  stats << std::fixed << std::setprecision(1) << "load " << load * 1000 << " ms, prompt "
        << static_cast<std::int64_t>(prompt_tokens) << " tokens at " << rate(prompt_tokens, prefill);
  if (steps > 0)
    stats << ", decode " << static_cast<std::int64_t>(decode_tokens) << " tokens at " << rate(decode_tokens, decode);
  else  // beam search: no per-step callback, one figure for the whole run
    stats << ", generate " << new_tokens << " steps x " << config.num_beams() << " beams in " << total * 1000 << " ms";
  std::cout << stats.str() << "\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArguments>();
  CLI::App* command = app.add_subcommand(
      "generate",
      "Generate text with a causal language model. One prompt streams its continuation; several form a "
      "left-padded batch. Options left out come from the model's generation_config.json (Transformers' "
      "defaults: greedy, 20 new tokens)");
  args->command = command;
  add_model_argument(*command, args->load, /*load_options=*/true);
  command->add_option("--prompt", args->prompts, "Prompt text (repeat for a batch)");
  command->add_option("--input-ids", args->input_ids, "Prompt token ids instead of text, rows separated by ';': \"1,2,3;4,5\"");
  command->add_option("--max-new-tokens", args->max_new_tokens, "Tokens to generate per prompt")
      ->check(CLI::PositiveNumber);
  command->add_option("--temperature", args->temperature, "Sampling temperature (implies sampling; 0 = greedy)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--top-k", args->top_k, "Sample from the k most likely tokens (implies sampling)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--top-p", args->top_p, "Sample from the smallest set of tokens whose probability reaches p "
                                              "(implies sampling)")
      ->check(CLI::Range(0.0, 1.0));
  command->add_flag("--do-sample", args->do_sample, "Sample instead of greedy decoding");
  command->add_option("--seed", args->seed, "Seed for sampling (equal seeds give equal samples)");
  command->add_option("--num-beams", args->num_beams, "Beam search with this many beams")->check(CLI::PositiveNumber);
  command->add_option("--repetition-penalty", args->repetition_penalty, "Penalise tokens already present (> 1)")
      ->check(CLI::PositiveNumber);
  command->add_flag("--no-special-tokens", args->no_special_tokens,
                    "Encode prompts without the special tokens the tokenizer adds by default (e.g. <s>)");
  command->add_flag("--json", args->json, "Print the prompt ids, generated ids and text of every prompt as JSON");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
