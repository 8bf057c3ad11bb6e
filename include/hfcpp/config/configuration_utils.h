// PretrainedConfig: the contents of config.json as Transformers reads and writes them. Every field
// lives in one JSON object, so fields this library does not know survive a load/save round trip;
// typed accessors cover the common ones, and a model-type entry supplies the class defaults and
// attribute aliases (GPT-2's n_embd is its hidden_size).
#pragma once

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfcpp {

using json = nlohmann::json;

// The Transformers version whose file formats we write, with our own tag so a reader can tell.
inline constexpr std::string_view kTransformersVersion = "4.46.0+hfcpp.0.1.0";

class PretrainedConfig {
 public:
  // The defaults of Transformers' PretrainedConfig() with no model type.
  PretrainedConfig();
  // Defaults of a registered model type (class defaults over the base defaults).
  static PretrainedConfig for_model_type(std::string_view model_type);
  // A config.json's content; model_type (if registered) supplies the defaults for absent fields.
  static PretrainedConfig from_dict(const json& dict, std::string_view label = "config");
  static PretrainedConfig from_json_file(const std::filesystem::path& path);
  // A folder holding config.json (in `subfolder` when given) or a config.json path.
  static PretrainedConfig from_pretrained(const std::filesystem::path& path, std::string_view subfolder = "");

  // --- raw access (names go through the model type's attribute map) ---
  bool has(std::string_view key) const;
  const json& at(std::string_view key) const;  // throws KeyError naming the key
  template <typename T>
  T get(std::string_view key) const;
  template <typename T>
  T get_or(std::string_view key, T fallback) const;
  void set(std::string_view key, json value);
  // Applies overrides as from_pretrained(..., **kwargs) does: num_labels rebuilds the label maps,
  // torch_dtype accepts torch names.
  void update(const json& overrides);

  // --- common fields ---
  std::string model_type() const;
  std::vector<std::string> architectures() const;
  void set_architectures(std::vector<std::string> names);
  std::optional<c10::ScalarType> torch_dtype() const;
  void set_torch_dtype(std::optional<c10::ScalarType> dtype);
  std::int64_t vocab_size() const { return get<std::int64_t>("vocab_size"); }
  std::int64_t hidden_size() const { return get<std::int64_t>("hidden_size"); }
  std::int64_t num_hidden_layers() const { return get<std::int64_t>("num_hidden_layers"); }
  std::int64_t num_attention_heads() const { return get<std::int64_t>("num_attention_heads"); }
  double initializer_range() const { return get_or<double>("initializer_range", 0.02); }
  std::optional<std::int64_t> pad_token_id() const { return optional_int("pad_token_id"); }
  std::optional<std::int64_t> bos_token_id() const { return optional_int("bos_token_id"); }
  // eos_token_id may be one id or a list of ids.
  std::vector<std::int64_t> eos_token_ids() const;
  bool tie_word_embeddings() const { return get_or<bool>("tie_word_embeddings", true); }
  bool is_decoder() const { return get_or<bool>("is_decoder", false); }
  bool is_encoder_decoder() const { return get_or<bool>("is_encoder_decoder", false); }
  bool output_attentions() const { return get_or<bool>("output_attentions", false); }
  bool output_hidden_states() const { return get_or<bool>("output_hidden_states", false); }
  bool use_return_dict() const { return get_or<bool>("return_dict", true); }
  bool use_cache() const { return get_or<bool>("use_cache", false); }
  std::string attn_implementation() const;  // "eager" | "sdpa" | "" (not chosen yet)
  void set_attn_implementation(std::string_view name);
  // layer -> heads pruned so far (config.pruned_heads; JSON keys are strings).
  std::map<std::int64_t, std::vector<std::int64_t>> pruned_heads() const;
  void set_pruned_heads(const std::map<std::int64_t, std::vector<std::int64_t>>& heads);
  std::int64_t num_labels() const;
  void set_num_labels(std::int64_t n);
  std::map<std::int64_t, std::string> id2label() const;
  std::optional<std::string> problem_type() const;
  std::string name_or_path() const { return get_or<std::string>("_name_or_path", ""); }

  // --- serialisation ---
  // Every field, as to_dict() (torch_dtype as a string, transformers_version set).
  json to_dict() const;
  // Only fields that differ from the defaults, as to_diff_dict() (what config.json holds).
  json to_diff_dict() const;
  // json.dumps(indent=2, sort_keys=True) + "\n", byte-compatible with Python.
  std::string to_json_string(bool use_diff = true) const;
  void to_json_file(const std::filesystem::path& path, bool use_diff = true) const;
  void save_pretrained(const std::filesystem::path& folder) const;

 private:
  std::optional<std::int64_t> optional_int(std::string_view key) const;
  std::string resolve(std::string_view key) const;  // attribute map
  json values_;          // all fields
  json class_defaults_;  // defaults of the model type ({} for the base)
  std::map<std::string, std::string> attribute_map_;
};

// Formats a JSON value as Python's json.dumps(indent=2, sort_keys=True) does.
std::string python_json_dumps(const json& value);

// Model-type registration: defaults (Transformers' <Name>Config() to_dict() minus the base
// defaults) and attribute aliases. Models register themselves (see models/auto.h).
struct ConfigTypeInfo {
  std::string model_type;
  json defaults;
  std::map<std::string, std::string> attribute_map;
};
void register_config_type(ConfigTypeInfo info);
const ConfigTypeInfo* find_config_type(std::string_view model_type);

[[noreturn]] void throw_config_type_error(std::string_view key, const char* what);

template <typename T>
T PretrainedConfig::get(std::string_view key) const {
  try {
    return at(key).get<T>();
  } catch (const json::exception& e) {
    throw_config_type_error(key, e.what());
  }
}

template <typename T>
T PretrainedConfig::get_or(std::string_view key, T fallback) const {
  if (!has(key) || at(key).is_null()) return fallback;
  return get<T>(key);
}

}  // namespace hfcpp
