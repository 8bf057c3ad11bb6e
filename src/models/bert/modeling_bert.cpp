#include "hfcpp/models/bert.h"

#include <ATen/ATen.h>

#include <cmath>

#include "../../modeling/losses.h"
#include "hfcpp/error.h"

namespace hfcpp {

// --- embeddings ---

BertEmbeddings::BertEmbeddings(const PretrainedConfig& config)
    : nn::Module("BertEmbeddings"),
      position_embedding_type(config.get_or<std::string>("position_embedding_type", "absolute")) {
  const auto hidden = config.hidden_size();
  word_embeddings = register_module("word_embeddings",
                                    std::make_shared<nn::Embedding>(config.vocab_size(), hidden, config.pad_token_id()));
  position_embeddings = register_module(
      "position_embeddings", std::make_shared<nn::Embedding>(config.get<std::int64_t>("max_position_embeddings"), hidden));
  token_type_embeddings = register_module(
      "token_type_embeddings", std::make_shared<nn::Embedding>(config.get<std::int64_t>("type_vocab_size"), hidden));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, config.get<double>("layer_norm_eps")));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.get<double>("hidden_dropout_prob")));
  const at::Tensor positions = at::arange(config.get<std::int64_t>("max_position_embeddings")).unsqueeze(0);
  add_buffer("position_ids", positions, /*persistent=*/false);
  add_buffer("token_type_ids", at::zeros(positions.sizes(), at::kLong), /*persistent=*/false);
}

at::Tensor BertEmbeddings::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids,
                                   const at::Tensor& position_ids, const at::Tensor& inputs_embeds,
                                   std::int64_t past_key_values_length) const {
  nn::ForwardScope hooks(*this);
  const at::Tensor& reference = input_ids.defined() ? input_ids : inputs_embeds;
  const std::int64_t batch = reference.size(0), seq = reference.size(1);
  at::Tensor positions = position_ids.defined()
                             ? position_ids
                             : buffer("position_ids").slice(1, past_key_values_length, past_key_values_length + seq);
  at::Tensor types = token_type_ids.defined() ? token_type_ids
                                              : buffer("token_type_ids").slice(1, 0, seq).expand({batch, seq});
  at::Tensor embeddings = inputs_embeds.defined() ? inputs_embeds : word_embeddings->forward(input_ids);
  embeddings = embeddings + token_type_embeddings->forward(types.to(embeddings.device()));
  if (position_embedding_type == "absolute")
    embeddings = embeddings + position_embeddings->forward(positions.to(embeddings.device()));
  return hooks.output(dropout->forward(LayerNorm->forward(embeddings)));
}

// --- attention ---

BertSelfAttention::BertSelfAttention(const PretrainedConfig& config)
    : nn::Module("BertSelfAttention"),
      num_attention_heads(config.num_attention_heads()),
      position_embedding_type(config.get_or<std::string>("position_embedding_type", "absolute")),
      max_position_embeddings(config.get<std::int64_t>("max_position_embeddings")) {
  const auto hidden = config.hidden_size();
  if (hidden % num_attention_heads != 0)
    throw ValueError("hidden_size " + std::to_string(hidden) + " is not a multiple of num_attention_heads " +
                     std::to_string(num_attention_heads));
  attention_head_size = hidden / num_attention_heads;
  all_head_size = num_attention_heads * attention_head_size;
  query = register_module("query", std::make_shared<nn::Linear>(hidden, all_head_size));
  key = register_module("key", std::make_shared<nn::Linear>(hidden, all_head_size));
  value = register_module("value", std::make_shared<nn::Linear>(hidden, all_head_size));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.get<double>("attention_probs_dropout_prob")));
  if (position_embedding_type == "relative_key" || position_embedding_type == "relative_key_query") {
    distance_embedding = register_module(
        "distance_embedding", std::make_shared<nn::Embedding>(2 * max_position_embeddings - 1, attention_head_size));
  } else if (position_embedding_type != "absolute") {
    throw ValueError("unknown position_embedding_type '" + position_embedding_type +
                     "': expected absolute, relative_key or relative_key_query");
  }
}

std::pair<at::Tensor, at::Tensor> BertSelfAttention::forward(const at::Tensor& hidden_states,
                                                             const at::Tensor& attention_mask,
                                                             const at::Tensor& head_mask) const {
  nn::ForwardScope hooks(*this);
  const std::int64_t batch = hidden_states.size(0), seq = hidden_states.size(1);
  auto heads = [&](const at::Tensor& x) {
    return x.view({batch, seq, num_attention_heads, attention_head_size}).permute({0, 2, 1, 3});  // 0 heads: pruned
  };
  const at::Tensor q = heads(query->forward(hidden_states));
  const at::Tensor k = heads(key->forward(hidden_states));
  const at::Tensor v = heads(value->forward(hidden_states));
  at::Tensor scores = at::matmul(q, k.transpose(-1, -2));
  if (distance_embedding) {
    const auto options = at::TensorOptions().dtype(at::kLong).device(hidden_states.device());
    const at::Tensor left = at::arange(seq, options).view({-1, 1});
    const at::Tensor right = at::arange(seq, options).view({1, -1});
    const at::Tensor distance = left - right;
    at::Tensor positional = distance_embedding->forward(distance + max_position_embeddings - 1).to(q.scalar_type());
    const at::Tensor query_terms = at::einsum("bhld,lrd->bhlr", {q, positional});
    if (position_embedding_type == "relative_key") {
      scores = scores + query_terms;
    } else {
      const at::Tensor key_terms = at::einsum("bhrd,lrd->bhlr", {k, positional});
      scores = scores + query_terms + key_terms;
    }
  }
  scores = scores / std::sqrt(static_cast<double>(attention_head_size));
  if (attention_mask.defined()) scores = scores + attention_mask;
  at::Tensor probs = at::softmax(scores, -1);
  at::Tensor dropped = dropout->forward(probs);
  if (head_mask.defined()) dropped = dropped * head_mask;
  at::Tensor context = at::matmul(dropped, v).permute({0, 2, 1, 3}).contiguous();
  context = context.view({batch, seq, all_head_size});
  // The probabilities after dropout and the head mask, as Python returns them.
  return hooks.output(std::pair{context, dropped});
}

BertSelfOutput::BertSelfOutput(const PretrainedConfig& config) : nn::Module("BertSelfOutput") {
  const auto hidden = config.hidden_size();
  dense = register_module("dense", std::make_shared<nn::Linear>(hidden, hidden));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, config.get<double>("layer_norm_eps")));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.get<double>("hidden_dropout_prob")));
}

at::Tensor BertSelfOutput::forward(const at::Tensor& hidden_states, const at::Tensor& input_tensor) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(LayerNorm->forward(dropout->forward(dense->forward(hidden_states)) + input_tensor));
}

BertAttention::BertAttention(const PretrainedConfig& config) : nn::Module("BertAttention") {
  self_attention = register_module("self", std::make_shared<BertSelfAttention>(config));
  output = register_module("output", std::make_shared<BertSelfOutput>(config));
}

std::pair<at::Tensor, at::Tensor> BertAttention::forward(const at::Tensor& hidden_states,
                                                         const at::Tensor& attention_mask,
                                                         const at::Tensor& head_mask) const {
  nn::ForwardScope hooks(*this);
  auto [context, probs] = self_attention->forward(hidden_states, attention_mask, head_mask);
  return hooks.output(std::pair{output->forward(context, hidden_states), probs});
}

// --- feed-forward and layers ---

BertIntermediate::BertIntermediate(const PretrainedConfig& config)
    : nn::Module("BertIntermediate"), intermediate_act_fn(nn::activation(config.get<std::string>("hidden_act"))) {
  dense = register_module("dense", std::make_shared<nn::Linear>(config.hidden_size(),
                                                                 config.get<std::int64_t>("intermediate_size")));
}

at::Tensor BertIntermediate::forward(const at::Tensor& hidden_states) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(intermediate_act_fn(dense->forward(hidden_states)));
}

BertOutput::BertOutput(const PretrainedConfig& config) : nn::Module("BertOutput") {
  const auto hidden = config.hidden_size();
  dense = register_module("dense", std::make_shared<nn::Linear>(config.get<std::int64_t>("intermediate_size"), hidden));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, config.get<double>("layer_norm_eps")));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.get<double>("hidden_dropout_prob")));
}

at::Tensor BertOutput::forward(const at::Tensor& hidden_states, const at::Tensor& input_tensor) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(LayerNorm->forward(dropout->forward(dense->forward(hidden_states)) + input_tensor));
}

BertLayer::BertLayer(const PretrainedConfig& config) : nn::Module("BertLayer") {
  if (config.get_or<bool>("add_cross_attention", false))
    throw UnsupportedError("BERT with add_cross_attention (encoder-decoder use) is not supported by hfcpp");
  attention = register_module("attention", std::make_shared<BertAttention>(config));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(config));
  output = register_module("output", std::make_shared<BertOutput>(config));
}

std::pair<at::Tensor, at::Tensor> BertLayer::forward(const at::Tensor& hidden_states, const at::Tensor& attention_mask,
                                                     const at::Tensor& head_mask) const {
  nn::ForwardScope hooks(*this);
  auto [attention_output, probs] = attention->forward(hidden_states, attention_mask, head_mask);
  return hooks.output(std::pair{output->forward(intermediate->forward(attention_output), attention_output), probs});
}

BertEncoder::BertEncoder(const PretrainedConfig& config) : nn::Module("BertEncoder") {
  layer = register_module("layer", std::make_shared<nn::ModuleList<BertLayer>>());
  for (std::int64_t i = 0; i < config.num_hidden_layers(); ++i) layer->push_back(std::make_shared<BertLayer>(config));
}

BertPooler::BertPooler(const PretrainedConfig& config) : nn::Module("BertPooler") {
  dense = register_module("dense", std::make_shared<nn::Linear>(config.hidden_size(), config.hidden_size()));
}

at::Tensor BertPooler::forward(const at::Tensor& hidden_states) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(at::tanh(dense->forward(hidden_states.select(1, 0))));
}

// --- heads ---

BertPredictionHeadTransform::BertPredictionHeadTransform(const PretrainedConfig& config)
    : nn::Module("BertPredictionHeadTransform"), transform_act_fn(nn::activation(config.get<std::string>("hidden_act"))) {
  const auto hidden = config.hidden_size();
  dense = register_module("dense", std::make_shared<nn::Linear>(hidden, hidden));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, config.get<double>("layer_norm_eps")));
}

at::Tensor BertPredictionHeadTransform::forward(const at::Tensor& hidden_states) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(LayerNorm->forward(transform_act_fn(dense->forward(hidden_states))));
}

BertLMPredictionHead::BertLMPredictionHead(const PretrainedConfig& config) : nn::Module("BertLMPredictionHead") {
  // Registration order is Python's: the bias parameter first, then transform and decoder.
  new_parameter("bias", {config.vocab_size()}, nn::InitialValue::kZeros);
  transform = register_module("transform", std::make_shared<BertPredictionHeadTransform>(config));
  decoder = register_module("decoder", std::make_shared<nn::Linear>(config.hidden_size(), config.vocab_size()));
  tie_bias();
}

void BertLMPredictionHead::tie_bias() { decoder->set_param("bias", param("bias")); }

at::Tensor BertLMPredictionHead::forward(const at::Tensor& hidden_states) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(decoder->forward(transform->forward(hidden_states)));
}

BertOnlyMLMHead::BertOnlyMLMHead(const PretrainedConfig& config) : nn::Module("BertOnlyMLMHead") {
  predictions = register_module("predictions", std::make_shared<BertLMPredictionHead>(config));
}

BertPreTrainingHeads::BertPreTrainingHeads(const PretrainedConfig& config) : nn::Module("BertPreTrainingHeads") {
  predictions = register_module("predictions", std::make_shared<BertLMPredictionHead>(config));
  seq_relationship = register_module("seq_relationship", std::make_shared<nn::Linear>(config.hidden_size(), 2));
}

// --- initialisation (BertPreTrainedModel._init_weights) ---

void BertPreTrainedModel::init_module_weights(torch::nn::Module& module) {
  c10::NoGradGuard no_grad;
  const double std = config().initializer_range();
  if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
    linear->weight().normal_(0.0, std);
    if (const at::Tensor* bias = linear->bias()) bias->zero_();
  } else if (auto* embedding = dynamic_cast<nn::Embedding*>(&module)) {
    embedding->weight().normal_(0.0, std);
    if (embedding->padding_idx) embedding->weight()[*embedding->padding_idx].zero_();
  } else if (auto* norm = dynamic_cast<nn::LayerNorm*>(&module)) {
    if (const at::Tensor* bias = norm->find_param("bias")) bias->zero_();
    norm->param("weight").fill_(1.0);
  }
}

}  // namespace hfcpp
