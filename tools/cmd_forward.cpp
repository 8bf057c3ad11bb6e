// hfcpp forward MODEL (--input-ids IDS | --text TEXT...) --out FILE: one forward pass, every
// output tensor written to a safetensors file under the names of the model's output fields
// (logits, last_hidden_state, hidden_states.N, attentions.N, past_key_values.N.0/1), the inputs
// beside them, so the file compares one to one with Python Transformers' outputs.
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

#include "commands.h"
#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/io/safetensors.h"
#include "model_args.h"
#include "text_format.h"

namespace hfcpp::cli {
namespace {

struct ForwardArguments {
  LoadArguments load;
  std::string input_ids;
  std::string attention_mask;
  std::string token_type_ids;
  std::string position_ids;
  std::vector<std::string> texts;
  std::string out;
  bool output_hidden_states = false;
  bool output_attentions = false;
};

// The inputs as the model takes them, from ids given on the command line or from text.
ModelInputs make_inputs(const ForwardArguments& args, const PreTrainedModel& model) {
  ModelInputs inputs;
  if (!args.texts.empty()) {
    if (!args.attention_mask.empty() || !args.token_type_ids.empty())
      throw ValueError("--text makes the attention mask and token type ids itself; give --input-ids to set them");
    const Tokenizer tokenizer = *load_tokenizer(model_folder(args.load.model), /*required=*/true);
    // Several texts form one batch padded to the longest, as tokenizer(texts, padding=True); one
    // text needs no padding (and GPT-2 style tokenizers have no pad token).
    EncodeOptions options;
    if (args.texts.size() > 1) options.padding = Padding::longest;
    const auto encodings = tokenizer.encode_batch(args.texts, options);
    std::vector<std::vector<std::int64_t>> ids, mask, types;
    for (const auto& encoding : encodings) {
      ids.push_back(encoding.ids);
      mask.push_back(encoding.attention_mask);
      types.push_back(encoding.type_ids);
    }
    inputs.input_ids = rectangular(ids, "--text");
    inputs.attention_mask = rectangular(mask, "--text");
    // Only models with token type embeddings (BERT) take them; GPT-2 would add them as tokens.
    if (model.config().has("type_vocab_size")) inputs.token_type_ids = rectangular(types, "--text");
  } else {
    inputs.input_ids = rectangular(parse_id_rows(args.input_ids, "--input-ids"), "--input-ids");
    auto same_shape = [&](const std::string& text, const std::string& option) {
      const at::Tensor tensor = rectangular(parse_id_rows(text, option), option);
      if (!tensor.sizes().equals(inputs.input_ids.sizes()))
        throw ValueError(option + " has shape " + shape_text(tensor.sizes().vec()) + " but --input-ids has " +
                         shape_text(inputs.input_ids.sizes().vec()));
      return tensor;
    };
    if (!args.attention_mask.empty()) inputs.attention_mask = same_shape(args.attention_mask, "--attention-mask");
    if (!args.token_type_ids.empty()) inputs.token_type_ids = same_shape(args.token_type_ids, "--token-type-ids");
    if (!args.position_ids.empty()) inputs.position_ids = same_shape(args.position_ids, "--position-ids");
  }
  const std::int64_t vocab = model.config().has("vocab_size") ? model.config().vocab_size() : 0;
  if (vocab > 0 && (inputs.input_ids.min().item<std::int64_t>() < 0 || inputs.input_ids.max().item<std::int64_t>() >= vocab))
    throw ValueError("input ids must lie in [0, " + std::to_string(vocab) + ") (the model's vocab_size); got " +
                     std::to_string(inputs.input_ids.min().item<std::int64_t>()) + ".." +
                     std::to_string(inputs.input_ids.max().item<std::int64_t>()));
  if (args.output_hidden_states) inputs.output_hidden_states = true;
  if (args.output_attentions) inputs.output_attentions = true;
  return inputs;
}

NamedTensors output_tensors(const ModelInputs& inputs, const ModelOutput& output) {
  NamedTensors tensors;
  for (const auto& [name, tensor] : output.flatten())
    if (tensor.defined()) tensors.emplace_back(name, tensor);
  // Python returns the cache as a tuple of (key, value) per layer: past_key_values.N.0 / .1.
  if (output.past_key_values) {
    const auto layers = output.past_key_values->to_legacy_cache();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      tensors.emplace_back("past_key_values." + std::to_string(i) + ".0", layers[i].first);
      tensors.emplace_back("past_key_values." + std::to_string(i) + ".1", layers[i].second);
    }
  }
  tensors.emplace_back("input_ids", inputs.input_ids);
  if (inputs.attention_mask.defined()) tensors.emplace_back("attention_mask", inputs.attention_mask);
  if (inputs.token_type_ids.defined()) tensors.emplace_back("token_type_ids", inputs.token_type_ids);
  if (inputs.position_ids.defined()) tensors.emplace_back("position_ids", inputs.position_ids);
  return tensors;
}

void run(const ForwardArguments& args) {
  if (args.texts.empty() == args.input_ids.empty()) throw ValueError("give either --input-ids or --text");
  LoadArguments load_args = args.load;
  // Fused (sdpa) attention computes no weights; Transformers users load with "eager" to get them.
  if (args.output_attentions) load_args.attn_implementation = "eager";
  auto start = std::chrono::steady_clock::now();
  auto model = load_model(load_args);
  const double load = seconds_since(start);
  const ModelInputs inputs = make_inputs(args, *model);

  c10::NoGradGuard no_grad;
  start = std::chrono::steady_clock::now();
  const ModelOutput output = model->forward(inputs);
  const double took = seconds_since(start);

  const NamedTensors tensors = output_tensors(inputs, output);
  save_safetensors(tensors, args.out, std::map<std::string, std::string>{{"format", "pt"}, {"cls", model->class_info().name}});

  std::cout << std::fixed << std::setprecision(1) << model->class_info().name << " ("
            << torch_dtype_name(model->dtype()) << "), input " << shape_text(inputs.input_ids.sizes().vec())
            << ": loaded in " << load * 1000 << " ms, forward " << took * 1000 << " ms\n";
  std::cout << "wrote " << args.out << "\n";
  TextTable table({"tensor", "dtype", "shape"});
  for (const auto& [name, tensor] : tensors)
    table.add({name, torch_dtype_name(tensor.scalar_type()), shape_text(tensor.sizes().vec())});
  table.print(std::cout);
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto args = std::make_shared<ForwardArguments>();
  CLI::App* command = app.add_subcommand(
      "forward",
      "Run the model once and write every output tensor (logits, last_hidden_state, hidden_states.N, "
      "attentions.N, past_key_values.N.0/1, ...) and the inputs to a safetensors file, to compare with "
      "Python Transformers");
  add_model_argument(*command, args->load, /*load_options=*/true);
  command->add_option("--input-ids", args->input_ids, "Token ids, rows separated by ';': \"1,2,3;4,5,6\"");
  command->add_option("--attention-mask", args->attention_mask, "1 = attend, 0 = padding, shaped as --input-ids");
  command->add_option("--token-type-ids", args->token_type_ids, "Segment ids, shaped as --input-ids");
  command->add_option("--position-ids", args->position_ids, "Position ids, shaped as --input-ids");
  command->add_option("--text", args->texts,
                      "Text to tokenize with the model's tokenizer instead of --input-ids; several form a batch "
                      "padded to the longest");
  command->add_option("--out", args->out, "The safetensors file to write")->required();
  command->add_flag("--output-hidden-states", args->output_hidden_states, "Also write hidden_states.N");
  command->add_flag("--output-attentions", args->output_attentions, "Also write attentions.N");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
