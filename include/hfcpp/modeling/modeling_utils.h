// PreTrainedModel: the generic machinery of Transformers' modeling_utils.py. A model class is a
// PreTrainedModel plus a ModelClassInfo (Transformers' class attributes); from_pretrained,
// save_pretrained, weight tying, initialisation and the ModuleUtilsMixin helpers know nothing
// else about it.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/config/generation_config.h"
#include "hfcpp/cpu_memory.h"
#include "hfcpp/modeling/modeling_outputs.h"
#include "hfcpp/nn/checkpoint.h"
#include "hfcpp/nn/layers.h"
#include "hfcpp/state_dict.h"

namespace hfcpp {

// Transformers' class attributes of a model class.
struct ModelClassInfo {
  std::string name;  // "BertForMaskedLM"
  std::string model_type;
  std::string base_model_prefix;
  std::string main_input_name = "input_ids";
  std::vector<std::string> no_split_modules;
  std::vector<std::string> tied_weights_keys;
  std::vector<std::string> keys_to_ignore_on_load_missing;     // regexes, searched
  std::vector<std::string> keys_to_ignore_on_load_unexpected;  // regexes, searched
  std::vector<std::string> keys_to_ignore_on_save;             // exact keys
  std::vector<std::string> keep_in_fp32_modules;
  bool supports_gradient_checkpointing = false;
  bool supports_sdpa = false;
  bool can_generate = false;
};

struct LoadingInfo {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
  // key, shape in the checkpoint, shape in the model
  std::vector<std::tuple<std::string, std::vector<std::int64_t>, std::vector<std::int64_t>>> mismatched_keys;
  std::vector<std::string> error_msgs;
};

struct FromPretrainedOptions {
  // nullopt: float32 (Transformers' default). "auto": config.torch_dtype, else the checkpoint's
  // first floating dtype. Or a name: "float32", "bfloat16", "float16", "torch.bfloat16", ...
  std::optional<std::string> torch_dtype;
  std::shared_ptr<PretrainedConfig> config;  // instead of reading config.json
  json config_overrides = json::object();   // e.g. {"num_labels": 5, "output_attentions": true}
  std::string variant;                       // "fp16" -> model.fp16.safetensors
  std::string subfolder;
  std::optional<bool> use_safetensors;       // true: safetensors or error; false: .bin only
  bool ignore_mismatched_sizes = false;
  std::optional<StateDict> state_dict;       // weights given in memory instead of files
  std::string attn_implementation;           // "eager" | "sdpa" | "" (the model's default)
  // Zero-copy: parameters that need no cast alias the memory-mapped file (copy-on-write) instead
  // of being copied. Loading is then near free and costs no extra memory.
  bool use_mmap = true;
  // Accepted for compatibility; hfcpp always loads tensor by tensor with ~1x peak memory.
  bool low_cpu_mem_usage = true;
};

struct SaveOptions {
  bool is_main_process = true;
  std::optional<StateDict> state_dict;  // save these tensors instead of the model's
  bool safe_serialization = true;       // false: pytorch_model.bin
  std::string max_shard_size = "5GB";
  std::string variant;
};

class PreTrainedModel : public nn::Module {
 public:
  PreTrainedModel(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info);

  const ModelClassInfo& class_info() const { return *info_; }
  PretrainedConfig& config() { return *config_; }
  const PretrainedConfig& config() const { return *config_; }
  const std::shared_ptr<PretrainedConfig>& config_ptr() const { return config_; }
  std::optional<GenerationConfig> generation_config;

  // The forward pass with every output the model has (see ModelOutput field names).
  virtual ModelOutput forward(const ModelInputs& inputs) = 0;

  // --- structure ---
  // The submodule named base_model_prefix, or this model when it is the base model.
  PreTrainedModel& base_model();
  virtual nn::Embedding* get_input_embeddings();
  virtual void set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings);
  // The LM head (a Linear, or a Conv1D), or nullptr when the model has none.
  virtual nn::Module* get_output_embeddings() { return nullptr; }
  // Ties the output embeddings to the input embeddings when config.tie_word_embeddings, then
  // runs every module's own tie hook (tie_weights_hook).
  void tie_weights();
  // Per-module extra ties (BERT's decoder bias = prediction bias). Called by tie_weights.
  virtual void tie_weights_hook() {}
  bool can_generate() const { return info_->can_generate; }

  // --- initialisation ---
  // Transformers' _init_weights(module) for this model family.
  virtual void init_module_weights(torch::nn::Module& module) = 0;
  // Materialises and initialises every module not yet initialised (post-order), then ties.
  void init_weights();
  void post_init() { init_weights(); }

  // --- properties ---
  c10::ScalarType dtype() const;
  c10::Device device() const;
  std::int64_t num_parameters(bool only_trainable = false, bool exclude_embeddings = false) const;
  // Python's state_dict(): parameters and persistent buffers, pre-order, tied keys included.
  StateDict state_dict() const;
  // Set when the weights are packed 4-bit (bitsandbytes' Params4bit, uint8 storage): num_parameters
  // then counts each uint8 parameter element as 2 parameters, as Transformers does.
  bool is_loaded_in_4bit = false;
  // Bytes of the parameters (each once) and, with return_buffers, of every buffer (persistent or not).
  std::int64_t get_memory_footprint(bool return_buffers = true) const;
  // The numel of the main input (input_ids), or 0 with a warning when the inputs lack it.
  std::int64_t estimate_tokens(const ModelInputs& inputs) const;
  // 6 * tokens * parameters: the forward+backward FLOPs of a training batch (Kaplan et al. 2020).
  std::int64_t floating_point_ops(const ModelInputs& inputs, bool exclude_embeddings = true) const;

  // --- surgery (src/modeling/resize_embeddings.cpp, src/modeling/pruning.cpp) ---
  // Grows or shrinks the vocabulary from the end to new_num_tokens (rounded up to a multiple of
  // pad_to_multiple_of; nullopt keeps the current size). Surviving rows are unchanged; an untied LM
  // head follows; ties are restored; config.vocab_size is updated. New rows: mean_resizing draws
  // them from N(mean, 1e-9 * covariance) of the old rows (the mean when that covariance is not
  // positive definite), otherwise from the model's own init. Returns the input embeddings.
  nn::Embedding* resize_token_embeddings(std::optional<std::int64_t> new_num_tokens = std::nullopt,
                                         std::optional<std::int64_t> pad_to_multiple_of = std::nullopt,
                                         bool mean_resizing = true);
  // layer -> heads (indices of the original, unpruned layer).
  using HeadsToPrune = std::map<std::int64_t, std::vector<std::int64_t>>;
  // Removes attention heads from the base model and records them (merged with earlier prunings)
  // in config.pruned_heads, which save_pretrained writes and from_pretrained re-applies.
  void prune_heads(const HeadsToPrune& heads_to_prune);
  // The base model's share of prune_heads (Python's _prune_heads); throws when unsupported.
  virtual void prune_base_heads(const HeadsToPrune& heads_to_prune);

  // --- saving ---
  // Like Transformers, records torch_dtype and architectures in the model's config as it saves.
  void save_pretrained(const std::filesystem::path& folder, const SaveOptions& options = {});

  // Warns once when input_ids look padded (pad id in the first or last column) but no attention
  // mask was given.
  void warn_if_padding_and_no_attention_mask(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

  // --- ModuleUtilsMixin ---
  // (1 - mask) * finfo(dtype).min, shaped [batch, 1, 1|seq, seq]; a causal mask when the config
  // is a decoder and the mask is 2-D. `dtype` defaults to the model's.
  at::Tensor get_extended_attention_mask(const at::Tensor& attention_mask, at::IntArrayRef input_shape,
                                         std::optional<c10::ScalarType> dtype = std::nullopt) const;
  at::Tensor invert_attention_mask(const at::Tensor& encoder_attention_mask) const;
  // [layers, batch, heads, seq, seq]-broadcastable masks per layer, or undefined tensors.
  std::vector<at::Tensor> get_head_mask(const at::Tensor& head_mask, std::int64_t num_hidden_layers,
                                        bool is_attention_chunked = false) const;

  // --- training (src/modeling/training_utils.cpp) ---
  // Transformers' gradient_checkpointing_enable: every module with a gradient_checkpointing flag
  // (nn::GradientCheckpointingLayers) runs its layers through nn::checkpoint in training mode, and
  // decoders stop caching. ValueError when the class does not support it. `preserve_rng_state`
  // is the one gradient_checkpointing_kwargs entry that applies to hfcpp's checkpoint.
  void gradient_checkpointing_enable(bool preserve_rng_state = true);
  void gradient_checkpointing_disable();
  bool is_gradient_checkpointing();
  // A forward hook on the input embeddings makes their output require grad, so adapters on a
  // frozen model receive gradients (hfcpp's checkpoint does not need it; PEFT-style code does).
  void enable_input_require_grads();
  void disable_input_require_grads();
  // Transformers' add_memory_hooks: each module's forward records mem_rss_pre_forward,
  // mem_rss_post_forward and adds their difference to mem_rss_diff (nn::Module fields). Unlike
  // Python, calling it again does not register a second set (which would count twice). Also
  // resets the state.
  void add_memory_hooks();
  void reset_memory_hooks_state();

 protected:
  // Resolves output_attentions / output_hidden_states from inputs then config.
  bool want_attentions(const ModelInputs& inputs) const;
  bool want_hidden_states(const ModelInputs& inputs) const;

 private:
  std::shared_ptr<PretrainedConfig> config_;
  const ModelClassInfo* info_;
  // Hook ids by module, so the hooks can be removed (ids are unique: a module destroyed since
  // and another at its address simply does not have the id).
  std::vector<std::pair<nn::Module*, std::size_t>> memory_hooks_;
  std::pair<nn::Module*, std::size_t> require_grads_hook_{nullptr, 0};
};

using ModelFactory = std::function<std::shared_ptr<PreTrainedModel>(std::shared_ptr<PretrainedConfig>)>;

// The generic from_pretrained: builds the model with `factory` on the meta device and fills it
// from the checkpoint in `path` (a local folder). `info` receives the loading report.
std::shared_ptr<PreTrainedModel> load_pretrained(const ModelFactory& factory, const ModelClassInfo& class_info,
                                                 const std::filesystem::path& path,
                                                 const FromPretrainedOptions& options = {},
                                                 LoadingInfo* info = nullptr);

// Typed entry point: auto model = from_pretrained<BertForMaskedLM>("path", {.torch_dtype = "auto"});
template <typename Model>
std::shared_ptr<Model> from_pretrained(const std::filesystem::path& path, const FromPretrainedOptions& options = {},
                                       LoadingInfo* info = nullptr) {
  ModelFactory factory = [](std::shared_ptr<PretrainedConfig> config) -> std::shared_ptr<PreTrainedModel> {
    return std::make_shared<Model>(std::move(config));
  };
  return std::dynamic_pointer_cast<Model>(load_pretrained(factory, Model::class_info(), path, options, info));
}

// Builds a randomly initialised model from a config (Transformers' Model(config)).
template <typename Model>
std::shared_ptr<Model> from_config(const PretrainedConfig& config) {
  configure_cpu_allocator();
  auto model = std::make_shared<Model>(std::make_shared<PretrainedConfig>(config));
  model->post_init();
  return model;
}

}  // namespace hfcpp
