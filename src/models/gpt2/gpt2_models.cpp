// The GPT-2 heads on top of GPT2Model, and the family's registration.
#include <ATen/ATen.h>

#include "../../modeling/losses.h"
#include "../builtin_models.h"
#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/gpt2.h"

namespace hfcpp {
namespace {

ModelClassInfo gpt2_head_class(std::string name, bool can_generate, bool tied_lm_head) {
  ModelClassInfo info = GPT2Model::class_info();
  info.name = std::move(name);
  info.can_generate = can_generate;
  if (tied_lm_head) info.tied_weights_keys = {"lm_head.weight"};
  return info;
}

// Next-token loss: logits at position t predict labels at t + 1.
at::Tensor shifted_lm_loss(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor shift_logits = logits.narrow(-2, 0, logits.size(-2) - 1).contiguous();
  const at::Tensor shift_labels = labels.to(logits.device()).narrow(-1, 1, labels.size(-1) - 1).contiguous();
  return detail::cross_entropy(shift_logits, shift_labels);
}

// The hidden states of the last `keep` positions (all of them for 0).
at::Tensor last_positions(const at::Tensor& hidden, std::int64_t keep) {
  if (keep <= 0 || keep >= hidden.size(-2)) return hidden;
  return hidden.narrow(-2, hidden.size(-2) - keep, keep);
}

}  // namespace

// --- GPT2LMHeadModel ---

const ModelClassInfo& GPT2LMHeadModel::class_info() {
  static const ModelClassInfo info = gpt2_head_class("GPT2LMHeadModel", true, true);
  return info;
}

GPT2LMHeadModel::GPT2LMHeadModel(std::shared_ptr<PretrainedConfig> config)
    : GPT2PreTrainedModel(std::move(config), class_info()) {
  transformer = register_module("transformer", std::make_shared<GPT2Model>(config_ptr()));
  lm_head = register_module("lm_head", std::make_shared<nn::Linear>(this->config().hidden_size(),
                                                                    this->config().vocab_size(), /*bias=*/false));
  post_init();
}

ModelOutput GPT2LMHeadModel::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = transformer->forward(inputs.for_base_model());
  const at::Tensor logits = lm_head->forward(last_positions(base.last_hidden_state(), inputs.num_logits_to_keep));
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", shifted_lm_loss(logits, inputs.labels));
  out.set("logits", logits);
  out.copy_base_extras(base);
  return out;
}

// --- GPT2DoubleHeadsModel ---

const ModelClassInfo& GPT2DoubleHeadsModel::class_info() {
  static const ModelClassInfo info = gpt2_head_class("GPT2DoubleHeadsModel", true, true);
  return info;
}

namespace {
// Transformers sets num_labels = 1 in __init__ (before the base model reads the config), and it
// is saved with the checkpoint.
std::shared_ptr<PretrainedConfig> with_one_label(std::shared_ptr<PretrainedConfig> config) {
  config->set_num_labels(1);
  return config;
}
}  // namespace

GPT2DoubleHeadsModel::GPT2DoubleHeadsModel(std::shared_ptr<PretrainedConfig> config)
    : GPT2PreTrainedModel(with_one_label(std::move(config)), class_info()) {
  transformer = register_module("transformer", std::make_shared<GPT2Model>(config_ptr()));
  lm_head = register_module("lm_head", std::make_shared<nn::Linear>(this->config().hidden_size(),
                                                                    this->config().vocab_size(), /*bias=*/false));
  multiple_choice_head = register_module("multiple_choice_head", std::make_shared<SequenceSummary>(this->config()));
  post_init();
}

ModelOutput GPT2DoubleHeadsModel::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = transformer->forward(inputs.for_base_model());
  const at::Tensor& hidden = base.last_hidden_state();
  const at::Tensor lm_logits = lm_head->forward(hidden);
  const at::Tensor mc_logits = multiple_choice_head->forward(hidden, inputs.mc_token_ids).squeeze(-1);
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", shifted_lm_loss(lm_logits, inputs.labels));
  if (inputs.mc_labels.defined())
    out.set("mc_loss", detail::cross_entropy(mc_logits.reshape({-1, mc_logits.size(-1)}), inputs.mc_labels));
  out.set("logits", lm_logits);
  out.set("mc_logits", mc_logits);
  out.copy_base_extras(base);
  return out;
}

// --- GPT2ForSequenceClassification ---

const ModelClassInfo& GPT2ForSequenceClassification::class_info() {
  static const ModelClassInfo info = gpt2_head_class("GPT2ForSequenceClassification", false, false);
  return info;
}

GPT2ForSequenceClassification::GPT2ForSequenceClassification(std::shared_ptr<PretrainedConfig> config)
    : GPT2PreTrainedModel(std::move(config), class_info()) {
  transformer = register_module("transformer", std::make_shared<GPT2Model>(config_ptr()));
  score = register_module("score", std::make_shared<nn::Linear>(this->config().hidden_size(),
                                                                this->config().num_labels(), /*bias=*/false));
  post_init();
}

ModelOutput GPT2ForSequenceClassification::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = transformer->forward(inputs.for_base_model());
  const at::Tensor logits = score->forward(base.last_hidden_state());
  const at::Tensor pooled = pool_before_first_pad(logits, inputs.input_ids, config().pad_token_id(), class_info().name);
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", detail::sequence_classification_loss(config(), pooled, inputs.labels));
  out.set("logits", pooled);
  out.copy_base_extras(base);
  return out;
}

// --- registration ---

namespace detail {

void register_gpt2_models() {
  register_config_type({"gpt2", json::parse(R"({
      "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
      "n_inner": null, "activation_function": "gelu_new", "resid_pdrop": 0.1, "embd_pdrop": 0.1,
      "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-05, "initializer_range": 0.02,
      "summary_type": "cls_index", "summary_use_proj": true, "summary_activation": null,
      "summary_proj_to_labels": true, "summary_first_dropout": 0.1, "scale_attn_weights": true,
      "use_cache": true, "scale_attn_by_inverse_layer_idx": false, "reorder_and_upcast_attn": false,
      "bos_token_id": 50256, "eos_token_id": 50256})"),
                        {{"hidden_size", "n_embd"},
                         {"max_position_embeddings", "n_positions"},
                         {"num_attention_heads", "n_head"},
                         {"num_hidden_layers", "n_layer"}}});
  auto factory = [](auto tag) {
    using Model = typename decltype(tag)::type;
    return [](std::shared_ptr<PretrainedConfig> config) -> std::shared_ptr<PreTrainedModel> {
      return std::make_shared<Model>(std::move(config));
    };
  };
  register_model_class({&GPT2Model::class_info(), factory(std::type_identity<GPT2Model>{}), {"AutoModel"}});
  register_model_class({&GPT2LMHeadModel::class_info(), factory(std::type_identity<GPT2LMHeadModel>{}),
                        {"AutoModelForCausalLM", "AutoModelForPreTraining"}});
  register_model_class({&GPT2DoubleHeadsModel::class_info(), factory(std::type_identity<GPT2DoubleHeadsModel>{}), {}});
  register_model_class({&GPT2ForSequenceClassification::class_info(),
                        factory(std::type_identity<GPT2ForSequenceClassification>{}),
                        {"AutoModelForSequenceClassification"}});
}

}  // namespace detail
}  // namespace hfcpp
