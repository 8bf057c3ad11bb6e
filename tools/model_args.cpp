#include "model_args.h"

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <regex>
#include <sstream>

#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/tokenizers/auto_tokenizer.h"

namespace hfcpp::cli {

namespace fs = std::filesystem;

void add_model_argument(CLI::App& command, LoadArguments& args, bool load_options) {
  command.add_option("model", args.model, "A model folder (config.json and weights, or tokenizer files)")->required();
  if (!load_options) return;
  command.add_option("--dtype", args.dtype, "Load the weights in this dtype; auto = the checkpoint's (default: float32)")
      ->check(CLI::IsMember({"auto", "float32", "bfloat16", "float16"}));
  command.add_option("--variant", args.variant, "Load the weights saved with this variant (model.<V>.safetensors)");
  command.add_option("--class", args.model_class,
                     "Model class to load, e.g. BertForMaskedLM (default: the config's architectures)");
}

fs::path model_folder(const std::string& model) {
  const fs::path path(model);
  std::error_code error;
  if (fs::is_directory(path, error)) return path;
  if (fs::exists(path, error)) throw FileError(model + ": not a folder (MODEL is a model folder)");
  // "gpt2" or "org/name": what a user copies from the Hub.
  static const std::regex hub_id(R"([A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?)");
  if (std::regex_match(model, hub_id))
    throw UnsupportedError(model + ": no such folder, and Hub download not supported yet (pass a local model folder)");
  throw FileError(model + ": no such folder");
}

FromPretrainedOptions from_pretrained_options(const LoadArguments& args) {
  FromPretrainedOptions options;
  if (!args.dtype.empty()) options.torch_dtype = args.dtype;
  options.variant = args.variant;
  options.attn_implementation = args.attn_implementation;
  return options;
}

std::shared_ptr<PreTrainedModel> load_model(const LoadArguments& args, bool causal_lm, LoadingInfo* info) {
  const fs::path folder = model_folder(args.model);
  const FromPretrainedOptions options = from_pretrained_options(args);
  if (!args.model_class.empty()) {
    const ModelClassRegistration* registration = find_model_class(args.model_class);
    if (registration != nullptr && causal_lm && !registration->info->can_generate)
      throw ValueError("--class " + args.model_class + " cannot generate text (choose a ...ForCausalLM/LMHead class)");
    return load_model_class(args.model_class, folder, options, info);  // names the known classes if unknown
  }
  if (!causal_lm) return load_any_model(folder, options, info);
  const PretrainedConfig config = auto_config(folder);
  for (const auto& name : config.architectures()) {
    const ModelClassRegistration* registration = find_model_class(name);
    if (registration != nullptr && registration->info->can_generate) return load_model_class(name, folder, options, info);
  }
  return AutoModelForCausalLM.from_pretrained(folder, options, info);
}

std::optional<Tokenizer> load_tokenizer(const fs::path& folder, bool required) {
  if (!required) {
    bool any = false;
    for (const char* name : {"tokenizer.json", "vocab.json", "vocab.txt", "tokenizer.model"})
      any = any || fs::exists(folder / name);
    if (!any) return std::nullopt;
  }
  return AutoTokenizer::from_pretrained(folder);
}

std::vector<std::vector<std::int64_t>> parse_id_rows(const std::string& text, const std::string& option) {
  std::vector<std::vector<std::int64_t>> rows;
  std::istringstream row_stream(text);
  for (std::string row_text; std::getline(row_stream, row_text, ';');) {
    std::vector<std::int64_t> row;
    std::istringstream id_stream(row_text);
    for (std::string item; std::getline(id_stream, item, ',');) {
      const auto first = item.find_first_not_of(" \t");
      const auto last = item.find_last_not_of(" \t");
      const std::string id = first == std::string::npos ? "" : item.substr(first, last - first + 1);
      std::size_t used = 0;
      std::int64_t value = 0;
      try {
        value = std::stoll(id, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (id.empty() || used != id.size())
        throw ValueError(option + " \"" + text + "\": '" + id + "' is not an integer (expected e.g. \"1,2,3;4,5\")");
      row.push_back(value);
    }
    if (row.empty()) throw ValueError(option + " \"" + text + "\": row " + std::to_string(rows.size()) + " is empty");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw ValueError(option + " is empty (expected e.g. \"1,2,3;4,5\")");
  return rows;
}

at::Tensor rectangular(const std::vector<std::vector<std::int64_t>>& rows, const std::string& option) {
  const std::size_t length = rows.front().size();
  std::vector<std::int64_t> flat;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() != length)
      throw ValueError(option + ": row " + std::to_string(i) + " has " + std::to_string(rows[i].size()) +
                       " ids but row 0 has " + std::to_string(length) + " (rows must be equally long)");
    flat.insert(flat.end(), rows[i].begin(), rows[i].end());
  }
  return at::tensor(flat, at::kLong).view({static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(length)});
}

PaddedBatch left_pad(const std::vector<std::vector<std::int64_t>>& rows, std::int64_t pad_id) {
  std::size_t length = 0;
  for (const auto& row : rows) length = std::max(length, row.size());
  std::vector<std::int64_t> ids, mask;
  for (const auto& row : rows) {
    ids.insert(ids.end(), length - row.size(), pad_id);
    mask.insert(mask.end(), length - row.size(), 0);
    ids.insert(ids.end(), row.begin(), row.end());
    mask.insert(mask.end(), row.size(), 1);
  }
  const std::vector<std::int64_t> shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(length)};
  return {at::tensor(ids, at::kLong).view(shape), at::tensor(mask, at::kLong).view(shape)};
}

std::vector<std::int64_t> to_ids(const at::Tensor& row) {
  const at::Tensor flat = row.to(at::kLong).contiguous().view(-1);
  return {flat.data_ptr<std::int64_t>(), flat.data_ptr<std::int64_t>() + flat.numel()};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace hfcpp::cli
