// hfcpp info MODEL [--json]: what a model folder loads as: class, config summary, dtype, weight
// files, parameter counts and memory footprint (the numbers of Transformers' num_parameters()
// and get_memory_footprint()).
#include <ATen/ATen.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <unordered_set>

#include "commands.h"
#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/modeling/weights_files.h"
#include "hfcpp/progress.h"
#include "model_args.h"

namespace hfcpp::cli {
namespace {

namespace fs = std::filesystem;

struct InfoArguments {
  LoadArguments load;
  bool json = false;
};

// The config fields that tell a model's size and shape, under their canonical names (the config's
// attribute map turns GPT-2's n_embd into hidden_size).
const std::vector<std::string> kSummaryKeys = {
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "max_position_embeddings", "hidden_act", "activation_function", "tie_word_embeddings"};

// Python's get_memory_footprint: bytes of distinct parameters, plus distinct buffers. Uses the
// library's method when PreTrainedModel has one, so the two can never disagree.
template <typename Model>
std::int64_t memory_footprint(Model& model, bool return_buffers) {
  if constexpr (requires { model.get_memory_footprint(return_buffers); }) {
    return static_cast<std::int64_t>(model.get_memory_footprint(return_buffers));
  } else {
    std::unordered_set<const void*> seen;  // tied weights are one tensor, counted once
    std::int64_t bytes = 0;
    auto add = [&](const at::Tensor& tensor) {
      if (seen.insert(tensor.unsafeGetTensorImpl()).second)
        bytes += tensor.numel() * static_cast<std::int64_t>(tensor.element_size());
    };
    for (const auto& item : model.named_parameters()) add(item.value());
    if (return_buffers)
      for (const auto& item : model.named_buffers()) add(item.value());
    return bytes;
  }
}

struct WeightFile {
  std::string name;
  std::uintmax_t bytes = 0;
};

// The files from_pretrained reads: the single weights file, or the index and its shards.
std::vector<WeightFile> weight_files(const fs::path& folder, const std::string& variant) {
  const fs::path weights = resolve_weights(folder, {.variant = variant});
  std::vector<WeightFile> files{{weights.filename().string(), fs::file_size(weights)}};
  const std::string name = weights.filename().string();
  if (name.ends_with(".index.json")) {
    std::ifstream in(weights, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    for (const auto& shard : parse_shard_index(text.str(), weights.string()).shard_files())
      files.push_back({shard, fs::file_size(folder / shard)});
  }
  return files;
}

std::string value_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

void run(const InfoArguments& args) {
  const fs::path folder = model_folder(args.load.model);
  LoadingInfo loading;
  auto model = load_model(args.load, /*causal_lm=*/false, &loading);
  const PretrainedConfig& config = model->config();

  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (const auto& key : kSummaryKeys)
    if (config.has(key) && !config.at(key).is_null()) summary[key] = config.at(key);
  const auto files = weight_files(folder, args.load.variant);
  const std::int64_t all = model->num_parameters();
  const std::int64_t trainable = model->num_parameters(/*only_trainable=*/true);
  const std::int64_t without_embeddings = model->num_parameters(false, /*exclude_embeddings=*/true);
  const std::int64_t with_buffers = memory_footprint(*model, true);
  const std::int64_t without_buffers = memory_footprint(*model, false);
  const auto config_dtype = config.torch_dtype();

  if (args.json) {
    nlohmann::ordered_json out;
    out["model"] = folder.string();
    out["class"] = model->class_info().name;
    out["model_type"] = config.model_type();
    out["config"] = summary;
    out["dtype"] = torch_dtype_name(model->dtype());
    out["config_torch_dtype"] = config_dtype ? nlohmann::json(torch_dtype_name(*config_dtype)) : nlohmann::json();
    out["weights"] = nlohmann::json::array();
    for (const auto& file : files) out["weights"].push_back({{"file", file.name}, {"bytes", file.bytes}});
    out["num_parameters"] = {{"all", all}, {"only_trainable", trainable}, {"exclude_embeddings", without_embeddings}};
    out["memory_footprint"] = {{"with_buffers", with_buffers}, {"without_buffers", without_buffers}};
    out["loading"] = {{"missing_keys", loading.missing_keys},
                      {"unexpected_keys", loading.unexpected_keys},
                      {"mismatched_keys", loading.mismatched_keys.size()}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::string config_line;
  for (const auto& [key, value] : summary.items()) config_line += (config_line.empty() ? "" : ", ") + key + "=" + value_text(value);
  std::string weights_line;
  for (const auto& file : files)
    weights_line += (weights_line.empty() ? "" : ", ") + file.name + " (" + format_bytes(file.bytes) + ")";
  std::cout << "model       " << folder.string() << "\n"
            << "class       " << model->class_info().name << " (model_type " << config.model_type() << ")\n"
            << "config      " << config_line << "\n"
            << "dtype       " << torch_dtype_name(model->dtype())
            << (config_dtype ? " (config.json torch_dtype: " + torch_dtype_name(*config_dtype) + ")" : "") << "\n"
            << "weights     " << weights_line << "\n"
            << "parameters  " << all << " (trainable " << trainable << ", without embeddings " << without_embeddings
            << ")\n"
            << "memory      " << with_buffers << " bytes (" << format_bytes(with_buffers) << ") with buffers, "
            << without_buffers << " bytes without\n"
            << "loading     " << loading.missing_keys.size() << " missing, " << loading.unexpected_keys.size()
            << " unexpected, " << loading.mismatched_keys.size() << " mismatched keys\n";
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto args = std::make_shared<InfoArguments>();
  CLI::App* command = app.add_subcommand(
      "info",
      "Load a model folder and show its class, config summary, dtype, weight files, parameter counts "
      "(all / trainable / without embeddings) and memory footprint (with and without buffers)");
  add_model_argument(*command, args->load, /*load_options=*/true);
  command->add_flag("--json", args->json, "Print JSON instead of text");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
