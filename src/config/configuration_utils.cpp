#include "hfcpp/config/configuration_utils.h"

#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "../models/builtin_models.h"

namespace hfcpp {
namespace {

// Transformers 4.46 PretrainedConfig().to_dict(), without model_type and transformers_version.
const json& base_defaults() {
  static const json defaults = json::parse(R"({
    "return_dict": true, "output_hidden_states": false, "output_attentions": false,
    "torchscript": false, "torch_dtype": null, "use_bfloat16": false, "tf_legacy_loss": false,
    "pruned_heads": {}, "tie_word_embeddings": true, "chunk_size_feed_forward": 0,
    "is_encoder_decoder": false, "is_decoder": false, "cross_attention_hidden_size": null,
    "add_cross_attention": false, "tie_encoder_decoder": false, "max_length": 20,
    "min_length": 0, "do_sample": false, "early_stopping": false, "num_beams": 1,
    "num_beam_groups": 1, "diversity_penalty": 0.0, "temperature": 1.0, "top_k": 50,
    "top_p": 1.0, "typical_p": 1.0, "repetition_penalty": 1.0, "length_penalty": 1.0,
    "no_repeat_ngram_size": 0, "encoder_no_repeat_ngram_size": 0, "bad_words_ids": null,
    "num_return_sequences": 1, "output_scores": false, "return_dict_in_generate": false,
    "forced_bos_token_id": null, "forced_eos_token_id": null, "remove_invalid_values": false,
    "exponential_decay_length_penalty": null, "suppress_tokens": null,
    "begin_suppress_tokens": null, "architectures": null, "finetuning_task": null,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "label2id": {"LABEL_0": 0, "LABEL_1": 1},
    "tokenizer_class": null, "prefix": null, "bos_token_id": null, "pad_token_id": null,
    "eos_token_id": null, "sep_token_id": null, "decoder_start_token_id": null,
    "task_specific_params": null, "problem_type": null, "_name_or_path": "",
    "_attn_implementation_autoset": false
  })");
  return defaults;
}

// Runtime-only fields Transformers never writes to config.json.
bool is_private_field(const std::string& key) {
  return key == "_attn_implementation_internal" || key == "_commit_hash";
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<std::string, ConfigTypeInfo>& registry() {
  static std::unordered_map<std::string, ConfigTypeInfo> types;
  return types;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json label_maps_for(std::int64_t n, json* label2id) {
  json id2label = json::object();
  *label2id = json::object();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string name = "LABEL_" + std::to_string(i);
    id2label[std::to_string(i)] = name;
    (*label2id)[name] = i;
  }
  return id2label;
}

}  // namespace

void throw_config_type_error(std::string_view key, const char* what) {
  throw ValueError("config field '" + std::string(key) + "' has an unexpected type: " + what);
}

void register_config_type(ConfigTypeInfo info) {
  std::lock_guard lock(registry_mutex());
  registry()[info.model_type] = std::move(info);
}

const ConfigTypeInfo* find_config_type(std::string_view model_type) {
  detail::ensure_builtin_models_registered();
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(std::string(model_type));
  return it == registry().end() ? nullptr : &it->second;
}

PretrainedConfig::PretrainedConfig() : values_(base_defaults()), class_defaults_(json::object()) {
  values_["model_type"] = "";
}

PretrainedConfig PretrainedConfig::for_model_type(std::string_view model_type) {
  const ConfigTypeInfo* info = find_config_type(model_type);
  if (info == nullptr)
    throw KeyError("unknown model_type '" + std::string(model_type) +
                   "': no model of that type is registered in hfcpp");
  PretrainedConfig config;
  config.class_defaults_ = info->defaults;
  config.attribute_map_ = info->attribute_map;
  for (const auto& [key, value] : info->defaults.items()) config.values_[key] = value;
  config.values_["model_type"] = info->model_type;
  return config;
}

PretrainedConfig PretrainedConfig::from_dict(const json& dict, std::string_view label) {
  if (!dict.is_object()) throw FormatError(std::string(label) + ": a config must be a JSON object");
  PretrainedConfig config;
  if (auto type = dict.find("model_type"); type != dict.end() && type->is_string()) {
    if (find_config_type(type->get<std::string>()) != nullptr) config = for_model_type(type->get<std::string>());
    else config.values_["model_type"] = *type;
  }
  for (const auto& [key, value] : dict.items()) config.values_[key] = value;
  // Label maps come in pairs; a file with only id2label gets the matching label2id.
  if (dict.contains("id2label") && !dict.contains("label2id")) {
    json label2id = json::object();
    for (const auto& [id, name] : dict["id2label"].items()) label2id[name.get<std::string>()] = std::stoll(id);
    config.values_["label2id"] = label2id;
  }
  return config;
}

PretrainedConfig PretrainedConfig::from_json_file(const std::filesystem::path& path) {
  json dict;
  try {
    dict = json::parse(read_text(path));
  } catch (const json::exception& e) {
    throw FormatError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  return from_dict(dict, path.string());
}

PretrainedConfig PretrainedConfig::from_pretrained(const std::filesystem::path& path, std::string_view subfolder) {
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(path)) {
    file = path;
    if (!subfolder.empty()) file /= std::string(subfolder);
    file /= "config.json";
  }
  if (!std::filesystem::exists(file))
    throw FileError(path.string() + " does not appear to have a file named config.json (looked for " +
                    file.string() + ")");
  return from_json_file(file);
}

std::string PretrainedConfig::resolve(std::string_view key) const {
  auto it = attribute_map_.find(std::string(key));
  return it == attribute_map_.end() ? std::string(key) : it->second;
}

bool PretrainedConfig::has(std::string_view key) const { return values_.contains(resolve(key)); }

const json& PretrainedConfig::at(std::string_view key) const {
  auto it = values_.find(resolve(key));
  if (it == values_.end())
    throw KeyError("the " + model_type() + " config has no field '" + std::string(key) + "'");
  return *it;
}

void PretrainedConfig::set(std::string_view key, json value) { values_[resolve(key)] = std::move(value); }

void PretrainedConfig::update(const json& overrides) {
  if (!overrides.is_object()) throw ValueError("config overrides must be a JSON object");
  for (const auto& [key, value] : overrides.items()) {
    if (key == "num_labels") {
      set_num_labels(value.get<std::int64_t>());
    } else if (key == "torch_dtype" && value.is_string() && value.get<std::string>() != "auto") {
      set_torch_dtype(parse_torch_dtype(value.get<std::string>()));
    } else {
      set(key, value);
    }
  }
}

std::string PretrainedConfig::model_type() const { return values_.value("model_type", ""); }

std::vector<std::string> PretrainedConfig::architectures() const {
  auto it = values_.find("architectures");
  if (it == values_.end() || it->is_null()) return {};
  return it->get<std::vector<std::string>>();
}

void PretrainedConfig::set_architectures(std::vector<std::string> names) { values_["architectures"] = names; }

std::optional<c10::ScalarType> PretrainedConfig::torch_dtype() const {
  auto it = values_.find("torch_dtype");
  if (it == values_.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ValueError("config field torch_dtype must be a string, found " + it->dump());
  return parse_torch_dtype(it->get<std::string>());
}

void PretrainedConfig::set_torch_dtype(std::optional<c10::ScalarType> dtype) {
  values_["torch_dtype"] = dtype ? json(torch_dtype_name(*dtype)) : json(nullptr);
}

std::optional<std::int64_t> PretrainedConfig::optional_int(std::string_view key) const {
  if (!has(key) || at(key).is_null()) return std::nullopt;
  const json& value = at(key);
  if (value.is_array()) return value.empty() ? std::nullopt : std::optional(value[0].get<std::int64_t>());
  return value.get<std::int64_t>();
}

std::vector<std::int64_t> PretrainedConfig::eos_token_ids() const {
  if (!has("eos_token_id") || at("eos_token_id").is_null()) return {};
  const json& value = at("eos_token_id");
  if (value.is_array()) return value.get<std::vector<std::int64_t>>();
  return {value.get<std::int64_t>()};
}

std::string PretrainedConfig::attn_implementation() const {
  return get_or<std::string>("_attn_implementation_internal", "");
}

void PretrainedConfig::set_attn_implementation(std::string_view name) {
  values_["_attn_implementation_internal"] = std::string(name);
}

std::map<std::int64_t, std::vector<std::int64_t>> PretrainedConfig::pruned_heads() const {
  std::map<std::int64_t, std::vector<std::int64_t>> heads;
  if (!has("pruned_heads") || at("pruned_heads").is_null()) return heads;
  for (const auto& [layer, list] : at("pruned_heads").items())
    heads[std::stoll(layer)] = list.get<std::vector<std::int64_t>>();
  return heads;
}

void PretrainedConfig::set_pruned_heads(const std::map<std::int64_t, std::vector<std::int64_t>>& heads) {
  json value = json::object();
  for (const auto& [layer, list] : heads) value[std::to_string(layer)] = list;
  values_["pruned_heads"] = value;
}

std::int64_t PretrainedConfig::num_labels() const {
  auto it = values_.find("id2label");
  if (it == values_.end() || it->is_null()) return 2;
  return static_cast<std::int64_t>(it->size());
}

void PretrainedConfig::set_num_labels(std::int64_t n) {
  if (n < 0) throw ValueError("num_labels must be >= 0, got " + std::to_string(n));
  if (num_labels() == n && values_.contains("id2label") && !values_["id2label"].is_null()) return;
  json label2id;
  values_["id2label"] = label_maps_for(n, &label2id);
  values_["label2id"] = label2id;
}

std::map<std::int64_t, std::string> PretrainedConfig::id2label() const {
  std::map<std::int64_t, std::string> labels;
  if (!has("id2label") || at("id2label").is_null()) return labels;
  for (const auto& [id, name] : at("id2label").items()) labels[std::stoll(id)] = name.get<std::string>();
  return labels;
}

std::optional<std::string> PretrainedConfig::problem_type() const {
  if (!has("problem_type") || at("problem_type").is_null()) return std::nullopt;
  return get<std::string>("problem_type");
}

json PretrainedConfig::to_dict() const {
  json out = values_;
  for (auto it = out.begin(); it != out.end();) {
    if (is_private_field(it.key())) it = out.erase(it);
    else ++it;
  }
  out["transformers_version"] = std::string(kTransformersVersion);
  return out;
}

json PretrainedConfig::to_diff_dict() const {
  const json all = to_dict();
  const json& base = base_defaults();
  json out = json::object();
  for (const auto& [key, value] : all.items()) {
    auto base_it = base.find(key);
    auto class_it = class_defaults_.find(key);
    const bool keep = base_it == base.end() || key == "transformers_version" || value != *base_it ||
                      (class_it != class_defaults_.end() && value != *class_it);
    if (keep) out[key] = value;
  }
  return out;
}

std::string PretrainedConfig::to_json_string(bool use_diff) const {
  return python_json_dumps(use_diff ? to_diff_dict() : to_dict()) + "\n";
}

void PretrainedConfig::to_json_file(const std::filesystem::path& path, bool use_diff) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << to_json_string(use_diff);
  if (!out) throw FileError("cannot write " + path.string());
}

void PretrainedConfig::save_pretrained(const std::filesystem::path& folder) const {
  std::filesystem::create_directories(folder);
  to_json_file(folder / "config.json");
}

}  // namespace hfcpp
