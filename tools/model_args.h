// What the model-running commands (generate, forward, info, encode, decode) share: the MODEL
// argument and load options, loading a model or a tokenizer from them, and token id lists.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/tokenizers/tokenizer.h"

namespace CLI {
class App;
}

namespace hfcpp::cli {

struct LoadArguments {
  std::string model;           // a local folder (Hub ids are recognised and refused for now)
  std::string dtype;           // "" = float32, as Transformers; auto|float32|bfloat16|float16
  std::string variant;         // model.<variant>.safetensors
  std::string model_class;     // "" = config.architectures[0]
  std::string attn_implementation;  // not an option: set by commands that need "eager"
};

// Adds the MODEL positional; with `load_options` also --dtype, --variant and --class.
void add_model_argument(CLI::App& command, LoadArguments& args, bool load_options);

// MODEL as a folder; throws FileError for a missing path, with a Hub-specific message for
// what looks like a Hub id ("org/name").
std::filesystem::path model_folder(const std::string& model);

FromPretrainedOptions from_pretrained_options(const LoadArguments& args);

// The class named by --class, else config.architectures[0] when registered, else AutoModel's.
// `causal_lm`: the class must be able to generate (AutoModelForCausalLM when the config names
// no such class).
std::shared_ptr<PreTrainedModel> load_model(const LoadArguments& args, bool causal_lm = false, LoadingInfo* info = nullptr);

// The tokenizer of the model folder; nullopt when the folder has no tokenizer files and
// `required` is false.
std::optional<Tokenizer> load_tokenizer(const std::filesystem::path& folder, bool required);

// "1,2,3;4,5" -> {{1,2,3},{4,5}}: rows separated by ';', ids by ',' (spaces allowed). `option`
// names the option in errors.
std::vector<std::vector<std::int64_t>> parse_id_rows(const std::string& text, const std::string& option);

// Rows of equal length as an int64 [rows, length] tensor; throws ValueError naming `option` when
// the lengths differ.
at::Tensor rectangular(const std::vector<std::vector<std::int64_t>>& rows, const std::string& option);

// Rows of any lengths, left-padded with `pad_id` to the longest, and the mask (0 on padding).
struct PaddedBatch {
  at::Tensor input_ids;
  at::Tensor attention_mask;
};
PaddedBatch left_pad(const std::vector<std::vector<std::int64_t>>& rows, std::int64_t pad_id);

std::vector<std::int64_t> to_ids(const at::Tensor& row);

double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace hfcpp::cli
