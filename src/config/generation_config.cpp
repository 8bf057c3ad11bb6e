#include "hfcpp/config/generation_config.h"

#include <fstream>
#include <sstream>

#include "hfcpp/error.h"

namespace hfcpp {
namespace {

// Transformers 4.46 GenerationConfig().to_dict() without transformers_version.
const json& generation_defaults() {
  static const json defaults = json::parse(R"({
    "max_length": 20, "max_new_tokens": null, "min_length": 0, "min_new_tokens": null,
    "early_stopping": false, "max_time": null, "stop_strings": null, "do_sample": false,
    "num_beams": 1, "num_beam_groups": 1, "penalty_alpha": null, "dola_layers": null,
    "use_cache": true, "cache_implementation": null, "cache_config": null,
    "return_legacy_cache": true, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "min_p": null,
    "typical_p": 1.0, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "diversity_penalty": 0.0,
    "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "length_penalty": 1.0,
    "no_repeat_ngram_size": 0, "bad_words_ids": null, "force_words_ids": null,
    "renormalize_logits": false, "constraints": null, "forced_bos_token_id": null,
    "forced_eos_token_id": null, "remove_invalid_values": false,
    "exponential_decay_length_penalty": null, "suppress_tokens": null,
    "begin_suppress_tokens": null, "forced_decoder_ids": null, "sequence_bias": null,
    "token_healing": false, "guidance_scale": null, "low_memory": null,
    "watermarking_config": null, "num_return_sequences": 1, "output_attentions": false,
    "output_hidden_states": false, "output_scores": false, "output_logits": null,
    "return_dict_in_generate": false, "pad_token_id": null, "bos_token_id": null,
    "eos_token_id": null, "encoder_no_repeat_ngram_size": 0, "decoder_start_token_id": null,
    "is_assistant": false, "num_assistant_tokens": 20,
    "num_assistant_tokens_schedule": "constant", "assistant_confidence_threshold": 0.4,
    "prompt_lookup_num_tokens": null, "max_matching_ngram_size": null,
    "generation_kwargs": {}, "_from_model_config": false
  })");
  return defaults;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

GenerationConfig::GenerationConfig() : values_(generation_defaults()) {}

GenerationConfig GenerationConfig::from_dict(const json& dict, std::string_view label) {
  if (!dict.is_object()) throw FormatError(std::string(label) + ": a generation config must be a JSON object");
  GenerationConfig config;
  for (const auto& [key, value] : dict.items()) config.values_[key] = value;
  return config;
}

GenerationConfig GenerationConfig::from_json_file(const std::filesystem::path& path) {
  try {
    return from_dict(json::parse(read_text(path)), path.string());
  } catch (const json::exception& e) {
    throw FormatError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
}

std::optional<GenerationConfig> GenerationConfig::from_pretrained(const std::filesystem::path& folder,
                                                                  std::string_view subfolder) {
  std::filesystem::path file = folder;
  if (!subfolder.empty()) file /= std::string(subfolder);
  file /= "generation_config.json";
  if (!std::filesystem::exists(file)) return std::nullopt;
  return from_json_file(file);
}

GenerationConfig GenerationConfig::from_model_config(const PretrainedConfig& config) {
  // Only fields a GenerationConfig has, and only those set (None lets the defaults stand).
  GenerationConfig out;
  const json model = config.to_dict();
  for (const auto& [key, value] : model.items()) {
    if (value.is_null() || key == "_from_model_config" || key == "transformers_version") continue;
    if (generation_defaults().contains(key)) out.values_[key] = value;
  }
  out.values_["_from_model_config"] = true;
  return out;
}

const json& GenerationConfig::at(std::string_view key) const {
  auto it = values_.find(std::string(key));
  if (it == values_.end()) throw KeyError("the generation config has no field '" + std::string(key) + "'");
  return *it;
}

void GenerationConfig::update(const json& overrides) {
  if (!overrides.is_object()) throw ValueError("generation overrides must be a JSON object");
  for (const auto& [key, value] : overrides.items()) values_[key] = value;
}

std::optional<double> GenerationConfig::min_p() const {
  auto it = values_.find("min_p");
  if (it == values_.end() || it->is_null()) return std::nullopt;
  return it->get<double>();
}

std::optional<std::string> GenerationConfig::cache_implementation() const {
  auto it = values_.find("cache_implementation");
  if (it == values_.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::int64_t> GenerationConfig::optional_int(std::string_view key) const {
  auto it = values_.find(std::string(key));
  if (it == values_.end() || it->is_null()) return std::nullopt;
  if (it->is_array()) return it->empty() ? std::nullopt : std::optional((*it)[0].get<std::int64_t>());
  return it->get<std::int64_t>();
}

std::vector<std::int64_t> GenerationConfig::eos_token_ids() const {
  auto it = values_.find("eos_token_id");
  if (it == values_.end() || it->is_null()) return {};
  if (it->is_array()) return it->get<std::vector<std::int64_t>>();
  return {it->get<std::int64_t>()};
}

json GenerationConfig::to_dict() const {
  json out = values_;
  out["transformers_version"] = std::string(kTransformersVersion);
  return out;
}

json GenerationConfig::to_diff_dict() const {
  const json all = to_dict();
  json out = json::object();
  for (const auto& [key, value] : all.items()) {
    auto def = generation_defaults().find(key);
    if (def == generation_defaults().end() || key == "transformers_version" || value != *def) out[key] = value;
  }
  return out;
}

std::string GenerationConfig::to_json_string(bool use_diff) const {
  return python_json_dumps(use_diff ? to_diff_dict() : to_dict()) + "\n";
}

void GenerationConfig::save_pretrained(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  std::ofstream out(folder / "generation_config.json", std::ios::binary | std::ios::trunc);
  out << to_json_string();
  if (!out) throw FileError("cannot write " + (folder / "generation_config.json").string());
}

}  // namespace hfcpp
