// BertModel and the task heads on top of it.
#include <ATen/ATen.h>

#include "../../modeling/losses.h"
#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/bert.h"
#include "../builtin_models.h"

namespace hfcpp {
namespace {

ModelClassInfo bert_class(std::string name) {
  ModelClassInfo info;
  info.name = std::move(name);
  info.model_type = "bert";
  info.base_model_prefix = "bert";
  info.no_split_modules = {"BertEmbeddings", "BertLayer"};
  info.supports_gradient_checkpointing = true;
  return info;
}

ModelClassInfo with_tied_lm_head(ModelClassInfo info, bool can_generate) {
  info.tied_weights_keys = {"predictions.decoder.bias", "cls.predictions.decoder.weight"};
  info.can_generate = can_generate;
  return info;
}

}  // namespace

// --- BertModel ---

const ModelClassInfo& BertModel::class_info() {
  static const ModelClassInfo info = bert_class("BertModel");
  return info;
}

BertModel::BertModel(std::shared_ptr<PretrainedConfig> config, bool add_pooling_layer)
    : BertPreTrainedModel(std::move(config), class_info()) {
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(this->config()));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(this->config()));
  if (add_pooling_layer) pooler = register_module("pooler", std::make_shared<BertPooler>(this->config()));
  post_init();
}

void BertModel::set_input_embeddings(std::shared_ptr<nn::Embedding> new_embeddings) {
  embeddings->word_embeddings = embeddings->replace_module("word_embeddings", std::move(new_embeddings));
}

ModelOutput BertModel::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  if (inputs.input_ids.defined() == inputs.inputs_embeds.defined())
    throw ValueError("BertModel.forward needs exactly one of input_ids and inputs_embeds");
  const at::Tensor& reference = inputs.input_ids.defined() ? inputs.input_ids : inputs.inputs_embeds;
  if (reference.dim() < 2)
    throw ValueError("input_ids must be [batch, seq], got shape " + c10::str(reference.sizes()));
  const std::int64_t batch = reference.size(0), seq = reference.size(1);
  if (inputs.input_ids.defined()) warn_if_padding_and_no_attention_mask(inputs.input_ids, inputs.attention_mask);
  const auto device = reference.device();

  const at::Tensor mask = inputs.attention_mask.defined()
                              ? inputs.attention_mask
                              : at::ones({batch, seq}, at::TensorOptions().device(device).dtype(at::kLong));
  const at::Tensor extended = get_extended_attention_mask(mask.to(device), {batch, seq});
  const auto head_masks = get_head_mask(inputs.head_mask, config().num_hidden_layers());

  const bool attentions = want_attentions(inputs);
  const bool hidden_states = want_hidden_states(inputs);
  std::vector<at::Tensor> all_hidden, all_attentions;

  at::Tensor h = embeddings->forward(inputs.input_ids, inputs.token_type_ids, inputs.position_ids, inputs.inputs_embeds);
  {
    nn::ForwardScope encoder_hooks(*encoder);
    const bool checkpointing = encoder->gradient_checkpointing && is_training();
    for (std::size_t i = 0; i < encoder->layer->size(); ++i) {
      if (hidden_states) all_hidden.push_back(h);
      BertLayer& layer = (*encoder->layer)[i];
      if (checkpointing) {
        auto run = [&layer, extended, head_mask = head_masks[i], attentions](const std::vector<at::Tensor>& in) {
          auto [next, probs] = layer.forward(in[0], extended, head_mask);
          return attentions ? std::vector<at::Tensor>{next, probs} : std::vector<at::Tensor>{next};
        };
        const auto out = nn::checkpoint(layer, run, {h}, encoder->checkpoint_preserve_rng_state);
        h = out[0];
        if (attentions) all_attentions.push_back(out[1]);
        continue;
      }
      auto [next, probs] = layer.forward(h, extended, head_masks[i]);
      h = next;
      if (attentions) all_attentions.push_back(probs);
    }
  }
  if (hidden_states) all_hidden.push_back(h);

  ModelOutput out;
  out.set("last_hidden_state", h);
  if (pooler) out.set("pooler_output", pooler->forward(h));
  if (hidden_states) out.set_tuple("hidden_states", std::move(all_hidden));
  if (attentions) out.set_tuple("attentions", std::move(all_attentions));
  return out;
}

// --- BertForPreTraining ---

const ModelClassInfo& BertForPreTraining::class_info() {
  static const ModelClassInfo info = with_tied_lm_head(bert_class("BertForPreTraining"), false);
  return info;
}

BertForPreTraining::BertForPreTraining(std::shared_ptr<PretrainedConfig> config)
    : BertPreTrainedModel(std::move(config), class_info()) {
  bert = register_module("bert", std::make_shared<BertModel>(config_ptr()));
  cls = register_module("cls", std::make_shared<BertPreTrainingHeads>(this->config()));
  post_init();
}

ModelOutput BertForPreTraining::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = bert->forward(inputs.for_base_model());
  ModelOutput out;
  const at::Tensor prediction = cls->predictions->forward(base.last_hidden_state());
  const at::Tensor relationship = cls->seq_relationship->forward(base.get("pooler_output"));
  if (inputs.labels.defined() && inputs.next_sentence_label.defined())
    out.set("loss", detail::cross_entropy(prediction, inputs.labels) +
                        detail::cross_entropy(relationship, inputs.next_sentence_label));
  out.set("prediction_logits", prediction);
  out.set("seq_relationship_logits", relationship);
  out.copy_base_extras(base);
  return out;
}

// --- BertForMaskedLM ---

const ModelClassInfo& BertForMaskedLM::class_info() {
  // Transformers 4.46 counts BertForMaskedLM as able to generate, so it saves generation_config.json.
  static const ModelClassInfo info = with_tied_lm_head(bert_class("BertForMaskedLM"), true);
  return info;
}

BertForMaskedLM::BertForMaskedLM(std::shared_ptr<PretrainedConfig> config)
    : BertPreTrainedModel(std::move(config), class_info()) {
  if (this->config().is_decoder())
    logging::warning("BertForMaskedLM is meant as an encoder: set is_decoder = false in the config for "
                     "bi-directional self-attention");
  bert = register_module("bert", std::make_shared<BertModel>(config_ptr(), /*add_pooling_layer=*/false));
  cls = register_module("cls", std::make_shared<BertOnlyMLMHead>(this->config()));
  post_init();
}

ModelOutput BertForMaskedLM::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = bert->forward(inputs.for_base_model());
  const at::Tensor logits = cls->predictions->forward(base.last_hidden_state());
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", detail::cross_entropy(logits, inputs.labels));
  out.set("logits", logits);
  out.copy_base_extras(base);
  return out;
}

// --- BertForSequenceClassification ---

const ModelClassInfo& BertForSequenceClassification::class_info() {
  static const ModelClassInfo info = bert_class("BertForSequenceClassification");
  return info;
}

namespace {
double classifier_dropout(const PretrainedConfig& config) {
  return config.get_or<double>("classifier_dropout", config.get<double>("hidden_dropout_prob"));
}
}  // namespace

BertForSequenceClassification::BertForSequenceClassification(std::shared_ptr<PretrainedConfig> config)
    : BertPreTrainedModel(std::move(config), class_info()) {
  bert = register_module("bert", std::make_shared<BertModel>(config_ptr()));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(classifier_dropout(this->config())));
  classifier = register_module("classifier",
                               std::make_shared<nn::Linear>(this->config().hidden_size(), this->config().num_labels()));
  post_init();
}

ModelOutput BertForSequenceClassification::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = bert->forward(inputs.for_base_model());
  const at::Tensor logits = classifier->forward(dropout->forward(base.get("pooler_output")));
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", detail::sequence_classification_loss(config(), logits, inputs.labels));
  out.set("logits", logits);
  out.copy_base_extras(base);
  return out;
}

// --- BertForTokenClassification ---

const ModelClassInfo& BertForTokenClassification::class_info() {
  static const ModelClassInfo info = bert_class("BertForTokenClassification");
  return info;
}

BertForTokenClassification::BertForTokenClassification(std::shared_ptr<PretrainedConfig> config)
    : BertPreTrainedModel(std::move(config), class_info()) {
  bert = register_module("bert", std::make_shared<BertModel>(config_ptr(), /*add_pooling_layer=*/false));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(classifier_dropout(this->config())));
  classifier = register_module("classifier",
                               std::make_shared<nn::Linear>(this->config().hidden_size(), this->config().num_labels()));
  post_init();
}

ModelOutput BertForTokenClassification::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = bert->forward(inputs.for_base_model());
  const at::Tensor logits = classifier->forward(dropout->forward(base.last_hidden_state()));
  ModelOutput out;
  if (inputs.labels.defined()) out.set("loss", detail::cross_entropy(logits, inputs.labels));
  out.set("logits", logits);
  out.copy_base_extras(base);
  return out;
}

// --- BertForQuestionAnswering ---

const ModelClassInfo& BertForQuestionAnswering::class_info() {
  static const ModelClassInfo info = bert_class("BertForQuestionAnswering");
  return info;
}

BertForQuestionAnswering::BertForQuestionAnswering(std::shared_ptr<PretrainedConfig> config)
    : BertPreTrainedModel(std::move(config), class_info()) {
  bert = register_module("bert", std::make_shared<BertModel>(config_ptr(), /*add_pooling_layer=*/false));
  qa_outputs = register_module("qa_outputs",
                               std::make_shared<nn::Linear>(this->config().hidden_size(), this->config().num_labels()));
  post_init();
}

ModelOutput BertForQuestionAnswering::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  const ModelOutput base = bert->forward(inputs.for_base_model());
  const at::Tensor logits = qa_outputs->forward(base.last_hidden_state());
  auto parts = logits.split(1, -1);
  const at::Tensor start = parts[0].squeeze(-1).contiguous();
  const at::Tensor end = parts[1].squeeze(-1).contiguous();
  ModelOutput out;
  if (inputs.start_positions.defined() && inputs.end_positions.defined()) {
    // Positions outside the sequence are clamped to an ignored index, as in Transformers.
    const std::int64_t ignored = start.size(1);
    const at::Tensor s = inputs.start_positions.reshape({-1}).clamp(0, ignored);
    const at::Tensor e = inputs.end_positions.reshape({-1}).clamp(0, ignored);
    out.set("loss", (detail::cross_entropy(start, s, ignored) + detail::cross_entropy(end, e, ignored)) / 2);
  }
  out.set("start_logits", start);
  out.set("end_logits", end);
  out.copy_base_extras(base);
  return out;
}

// --- registration ---

namespace detail {

void register_bert_models() {
  register_config_type({"bert", json::parse(R"({
      "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
      "hidden_act": "gelu", "intermediate_size": 3072, "hidden_dropout_prob": 0.1,
      "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
      "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
      "position_embedding_type": "absolute", "use_cache": true, "classifier_dropout": null})"),
                        {}});
  auto factory = [](auto tag) {
    using Model = typename decltype(tag)::type;
    return [](std::shared_ptr<PretrainedConfig> config) -> std::shared_ptr<PreTrainedModel> {
      return std::make_shared<Model>(std::move(config));
    };
  };
  register_model_class({&BertModel::class_info(), factory(std::type_identity<BertModel>{}), {"AutoModel"}});
  register_model_class({&BertForPreTraining::class_info(), factory(std::type_identity<BertForPreTraining>{}),
                        {"AutoModelForPreTraining"}});
  register_model_class({&BertForMaskedLM::class_info(), factory(std::type_identity<BertForMaskedLM>{}),
                        {"AutoModelForMaskedLM"}});
  register_model_class({&BertForSequenceClassification::class_info(),
                        factory(std::type_identity<BertForSequenceClassification>{}),
                        {"AutoModelForSequenceClassification"}});
  register_model_class({&BertForTokenClassification::class_info(),
                        factory(std::type_identity<BertForTokenClassification>{}), {"AutoModelForTokenClassification"}});
  register_model_class({&BertForQuestionAnswering::class_info(), factory(std::type_identity<BertForQuestionAnswering>{}),
                        {"AutoModelForQuestionAnswering"}});
}

}  // namespace detail
}  // namespace hfcpp
