// GenerationConfig: generation_config.json as Transformers reads and writes it. Backed by JSON so
// unknown fields survive; typed accessors for what generate() uses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hfcpp/config/configuration_utils.h"

namespace hfcpp {

class GenerationConfig {
 public:
  GenerationConfig();  // Transformers' GenerationConfig() defaults
  static GenerationConfig from_dict(const json& dict, std::string_view label = "generation config");
  static GenerationConfig from_json_file(const std::filesystem::path& path);
  // generation_config.json in `folder` (and `subfolder`); nullopt when the file does not exist.
  static std::optional<GenerationConfig> from_pretrained(const std::filesystem::path& folder,
                                                         std::string_view subfolder = "");
  // GenerationConfig.from_model_config: the generation fields of a model config that are set.
  static GenerationConfig from_model_config(const PretrainedConfig& config);

  bool has(std::string_view key) const { return values_.contains(std::string(key)); }
  const json& at(std::string_view key) const;
  void set(std::string_view key, json value) { values_[std::string(key)] = std::move(value); }
  void update(const json& overrides);
  template <typename T>
  T get_or(std::string_view key, T fallback) const {
    auto it = values_.find(std::string(key));
    return (it == values_.end() || it->is_null()) ? fallback : it->get<T>();
  }

  std::int64_t max_length() const { return get_or<std::int64_t>("max_length", 20); }
  std::optional<std::int64_t> max_new_tokens() const { return optional_int("max_new_tokens"); }
  std::int64_t min_length() const { return get_or<std::int64_t>("min_length", 0); }
  std::optional<std::int64_t> min_new_tokens() const { return optional_int("min_new_tokens"); }
  bool do_sample() const { return get_or<bool>("do_sample", false); }
  std::int64_t num_beams() const { return get_or<std::int64_t>("num_beams", 1); }
  double temperature() const { return get_or<double>("temperature", 1.0); }
  std::int64_t top_k() const { return get_or<std::int64_t>("top_k", 50); }
  double top_p() const { return get_or<double>("top_p", 1.0); }
  std::optional<double> min_p() const;
  double repetition_penalty() const { return get_or<double>("repetition_penalty", 1.0); }
  double length_penalty() const { return get_or<double>("length_penalty", 1.0); }
  // early_stopping is true, false or "never".
  json early_stopping() const { return values_.value("early_stopping", json(false)); }
  bool use_cache() const { return get_or<bool>("use_cache", true); }
  std::optional<std::string> cache_implementation() const;
  std::optional<std::int64_t> pad_token_id() const { return optional_int("pad_token_id"); }
  std::optional<std::int64_t> bos_token_id() const { return optional_int("bos_token_id"); }
  std::vector<std::int64_t> eos_token_ids() const;
  std::int64_t num_return_sequences() const { return get_or<std::int64_t>("num_return_sequences", 1); }

  json to_dict() const;
  json to_diff_dict() const;
  std::string to_json_string(bool use_diff = true) const;
  void save_pretrained(const std::filesystem::path& folder) const;

 private:
  std::optional<std::int64_t> optional_int(std::string_view key) const;
  json values_;
};

}  // namespace hfcpp
