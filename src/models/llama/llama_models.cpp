// The Llama heads on top of LlamaModel, the Mistral and Qwen2 names for them, and registration.
#include <ATen/ATen.h>

#include "../../modeling/losses.h"
#include "../builtin_models.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/llama.h"
#include "hfcpp/modeling/sequence_summary.h"
#include "llama_decode.h"

namespace hfcpp {
namespace {

ModelClassInfo family_class(const ModelClassInfo& base, std::string name, bool can_generate, bool tied_lm_head) {
  ModelClassInfo info = base;
  info.name = std::move(name);
  info.can_generate = can_generate;
  if (tied_lm_head) info.tied_weights_keys = {"lm_head.weight"};
  return info;
}

ModelClassInfo renamed_base(std::string name, std::string model_type, std::string layer_class) {
  ModelClassInfo info = LlamaModel::class_info();
  info.name = std::move(name);
  info.model_type = std::move(model_type);
  info.no_split_modules = {std::move(layer_class)};
  return info;
}

}  // namespace

// --- LlamaForCausalLM ---

const ModelClassInfo& LlamaForCausalLM::class_info() {
  static const ModelClassInfo info = family_class(LlamaModel::class_info(), "LlamaForCausalLM", true, true);
  return info;
}

LlamaForCausalLM::LlamaForCausalLM(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info,
                                   const ModelClassInfo& base_info)
    : LlamaPreTrainedModel(std::move(config), info) {
  model = register_module("model", std::make_shared<LlamaModel>(config_ptr(), base_info));
  lm_head = register_module("lm_head", std::make_shared<nn::Linear>(this->config().hidden_size(),
                                                                    this->config().vocab_size(), /*bias=*/false));
  post_init();
}

ModelOutput LlamaForCausalLM::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = model->forward(inputs.for_base_model());
  at::Tensor hidden = base.last_hidden_state();
  // Only the positions whose logits are wanted go through the LM head (generate keeps one).
  if (inputs.num_logits_to_keep > 0 && inputs.num_logits_to_keep < hidden.size(1))
    hidden = hidden.narrow(1, hidden.size(1) - inputs.num_logits_to_keep, inputs.num_logits_to_keep);
  // A few rows (decoding) go through the decode kernels when they apply.
  at::Tensor logits = detail::project_rows(*lm_head, hidden);
  ModelOutput out;
  if (inputs.labels.defined()) {
    // The loss is computed on float32 logits, which are then returned.
    logits = logits.to(at::kFloat);
    const at::Tensor shift_logits = logits.narrow(1, 0, logits.size(1) - 1).contiguous();
    const at::Tensor shift_labels = inputs.labels.to(logits.device()).narrow(1, 1, inputs.labels.size(1) - 1).contiguous();
    out.set("loss", detail::cross_entropy(shift_logits, shift_labels));
  }
  out.set("logits", logits);
  out.copy_base_extras(base);
  return out;
}

// --- LlamaForSequenceClassification ---

const ModelClassInfo& LlamaForSequenceClassification::class_info() {
  static const ModelClassInfo info =
      family_class(LlamaModel::class_info(), "LlamaForSequenceClassification", false, false);
  return info;
}

LlamaForSequenceClassification::LlamaForSequenceClassification(std::shared_ptr<PretrainedConfig> config,
                                                               const ModelClassInfo& info,
                                                               const ModelClassInfo& base_info)
    : LlamaPreTrainedModel(std::move(config), info) {
  model = register_module("model", std::make_shared<LlamaModel>(config_ptr(), base_info));
  score = register_module("score", std::make_shared<nn::Linear>(this->config().hidden_size(),
                                                                this->config().num_labels(), /*bias=*/false));
  post_init();
}

ModelOutput LlamaForSequenceClassification::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = model->forward(inputs.for_base_model());
  const at::Tensor logits = score->forward(base.last_hidden_state());
  const at::Tensor pooled =
      pool_before_first_pad(logits, inputs.input_ids, config().pad_token_id(), PreTrainedModel::class_info().name);
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", detail::sequence_classification_loss(config(), pooled, inputs.labels));
  out.set("logits", pooled);
  out.copy_base_extras(base);
  return out;
}

// --- Mistral and Qwen2 ---

const ModelClassInfo& MistralModel::class_info() {
  static const ModelClassInfo info = renamed_base("MistralModel", "mistral", "MistralDecoderLayer");
  return info;
}
const ModelClassInfo& MistralForCausalLM::class_info() {
  static const ModelClassInfo info = family_class(MistralModel::class_info(), "MistralForCausalLM", true, true);
  return info;
}
const ModelClassInfo& MistralForSequenceClassification::class_info() {
  static const ModelClassInfo info =
      family_class(MistralModel::class_info(), "MistralForSequenceClassification", false, false);
  return info;
}
const ModelClassInfo& Qwen2Model::class_info() {
  static const ModelClassInfo info = renamed_base("Qwen2Model", "qwen2", "Qwen2DecoderLayer");
  return info;
}
const ModelClassInfo& Qwen2ForCausalLM::class_info() {
  static const ModelClassInfo info = family_class(Qwen2Model::class_info(), "Qwen2ForCausalLM", true, true);
  return info;
}
const ModelClassInfo& Qwen2ForSequenceClassification::class_info() {
  static const ModelClassInfo info =
      family_class(Qwen2Model::class_info(), "Qwen2ForSequenceClassification", false, false);
  return info;
}

// --- registration ---

namespace detail {
namespace {

template <typename Model>
ModelFactory factory_of() {
  return [](std::shared_ptr<PretrainedConfig> config) -> std::shared_ptr<PreTrainedModel> {
    return std::make_shared<Model>(std::move(config));
  };
}

template <typename Base, typename CausalLM, typename SequenceClassification>
void register_family() {
  register_model_class({&Base::class_info(), factory_of<Base>(), {"AutoModel"}});
  register_model_class({&CausalLM::class_info(), factory_of<CausalLM>(), {"AutoModelForCausalLM"}});
  register_model_class({&SequenceClassification::class_info(), factory_of<SequenceClassification>(),
                        {"AutoModelForSequenceClassification"}});
}

}  // namespace

void register_llama_models() {
  // Class defaults of LlamaConfig(), MistralConfig() and Qwen2Config(). head_dim and
  // num_key_value_heads are derived from the other fields when a config leaves them out, so
  // their defaults are null here (the model fills them in, as the Python configs do).
  register_config_type({"llama", json::parse(R"({
      "vocab_size": 32000, "max_position_embeddings": 2048, "hidden_size": 4096,
      "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
      "num_key_value_heads": null, "hidden_act": "silu", "initializer_range": 0.02,
      "rms_norm_eps": 1e-06, "pretraining_tp": 1, "use_cache": true, "rope_theta": 10000.0,
      "rope_scaling": null, "attention_bias": false, "attention_dropout": 0.0, "mlp_bias": false,
      "head_dim": null, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false})"),
                        {}});
  register_config_type({"mistral", json::parse(R"({
      "vocab_size": 32000, "max_position_embeddings": 131072, "hidden_size": 4096,
      "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
      "sliding_window": 4096, "head_dim": null, "num_key_value_heads": 8, "hidden_act": "silu",
      "initializer_range": 0.02, "rms_norm_eps": 1e-06, "use_cache": true, "rope_theta": 10000.0,
      "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": false})"),
                        {}});
  register_config_type({"qwen2", json::parse(R"({
      "vocab_size": 151936, "max_position_embeddings": 32768, "hidden_size": 4096,
      "intermediate_size": 22016, "num_hidden_layers": 32, "num_attention_heads": 32,
      "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 28,
      "num_key_value_heads": null, "hidden_act": "silu", "initializer_range": 0.02,
      "rms_norm_eps": 1e-06, "use_cache": true, "rope_theta": 10000.0, "rope_scaling": null,
      "attention_dropout": 0.0, "tie_word_embeddings": false})"),
                        {}});
  register_family<LlamaModel, LlamaForCausalLM, LlamaForSequenceClassification>();
  register_family<MistralModel, MistralForCausalLM, MistralForSequenceClassification>();
  register_family<Qwen2Model, Qwen2ForCausalLM, Qwen2ForSequenceClassification>();
}

}  // namespace detail
}  // namespace hfcpp
