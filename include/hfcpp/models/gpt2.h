// GPT-2 (Transformers' modeling_gpt2.py): the decoder and its heads. Module and parameter names
// equal Transformers', so state_dict() keys equal checkpoint keys; Conv1D keeps the [in, out]
// weight layout of the checkpoints.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hfcpp/generation/cache.h"
#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/modeling/sequence_summary.h"
#include "hfcpp/nn/layers.h"

namespace hfcpp {

// Causal self-attention over a fused c_attn projection. The non-persistent buffers bias (the
// bool causal mask, n_positions x n_positions) and masked_bias (a scalar Transformers keeps for
// old checkpoints) are Python's, so they count in the memory footprint.
class GPT2Attention : public nn::Module {
 public:
  GPT2Attention(const PretrainedConfig& config, std::int64_t layer_idx);
  // hidden_states [batch, seq, embed]; causal [seq, keys] bool (true = may attend);
  // attention_mask additive, broadcastable to [batch, heads, seq, keys], or undefined.
  // Returns the output and, when asked for, the attention probabilities.
  // causal_keys >= 0 (see consecutive_causal_keys): the queries are the last of the first
  // causal_keys keys, so causal may be undefined; "sdpa" then attends by the causal rule.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden_states, Cache* cache,
                                            const at::Tensor& cache_position, const at::Tensor& causal,
                                            const at::Tensor& attention_mask, const at::Tensor& head_mask,
                                            bool output_attentions, std::int64_t causal_keys = -1) const;
  // Removes `heads` (indices in the unpruned layer) from c_attn's q/k/v and c_proj.
  void prune_heads(const std::vector<std::int64_t>& heads);  // gpt2_pruning.cpp
  // num_heads * head_dim is the width of q, k and v (less than embed_dim once heads are pruned).
  std::int64_t embed_dim, num_heads, head_dim, layer_idx;
  std::set<std::int64_t> pruned_heads;
  bool scale_attn_weights, scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn;
  std::string attn_implementation;
  std::shared_ptr<nn::Conv1D> c_attn, c_proj;
  std::shared_ptr<nn::Dropout> attn_dropout, resid_dropout;

 private:
  std::pair<at::Tensor, at::Tensor> eager(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                          const at::Tensor& causal, const at::Tensor& attention_mask,
                                          const at::Tensor& head_mask) const;
  // attn_implementation "sdpa": the fused kernel (hfcpp/nn/attention.h), same masks as eager.
  at::Tensor attend_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& causal,
                          const at::Tensor& attention_mask, std::int64_t causal_keys) const;
  double score_scale() const;
};

class GPT2MLP : public nn::Module {
 public:
  GPT2MLP(std::int64_t intermediate_size, const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states) const;
  std::shared_ptr<nn::Conv1D> c_fc, c_proj;
  nn::Activation act;
  std::shared_ptr<nn::Dropout> dropout;
};

class GPT2Block : public nn::Module {
 public:
  GPT2Block(const PretrainedConfig& config, std::int64_t layer_idx);
  std::shared_ptr<nn::LayerNorm> ln_1, ln_2;
  std::shared_ptr<GPT2Attention> attn;
  std::shared_ptr<GPT2MLP> mlp;
};

// GPT2PreTrainedModel: weight initialisation (normal(0, initializer_range), and the scaled
// normal(0, initializer_range / sqrt(2 n_layer)) of every c_proj.weight) and class attributes.
class GPT2PreTrainedModel : public PreTrainedModel {
 public:
  using PreTrainedModel::PreTrainedModel;
  void init_module_weights(torch::nn::Module& module) override;
};

class GPT2Model : public GPT2PreTrainedModel, public nn::GradientCheckpointingLayers {
 public:
  explicit GPT2Model(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  // input_ids / inputs_embeds [batch, (choices,) seq]; attention_mask [batch, keys] (1 = token) or a
  // 4-D additive mask. Returns last_hidden_state, past_key_values (when use_cache), hidden_states,
  // attentions.
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Embedding* get_input_embeddings() override { return wte.get(); }
  void set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) override;
  void prune_base_heads(const HeadsToPrune& heads_to_prune) override;  // gpt2_pruning.cpp
  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::ModuleList<GPT2Block>> h;
  std::shared_ptr<nn::LayerNorm> ln_f;
};

class GPT2LMHeadModel : public GPT2PreTrainedModel {
 public:
  explicit GPT2LMHeadModel(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Module* get_output_embeddings() override { return lm_head.get(); }
  std::shared_ptr<GPT2Model> transformer;
  std::shared_ptr<nn::Linear> lm_head;
};

// Language modelling plus a multiple-choice head: input_ids [batch, choices, seq], mc_token_ids
// [batch, choices] (the token whose hidden state scores each choice). Sets config.num_labels = 1
// as Transformers does. Outputs loss (LM), mc_loss, logits, mc_logits, past_key_values, ...
class GPT2DoubleHeadsModel : public GPT2PreTrainedModel {
 public:
  explicit GPT2DoubleHeadsModel(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Module* get_output_embeddings() override { return lm_head.get(); }
  std::shared_ptr<GPT2Model> transformer;
  std::shared_ptr<nn::Linear> lm_head;
  std::shared_ptr<SequenceSummary> multiple_choice_head;
};

// Scores each sequence from the hidden state of one token: the one before the first pad token
// (the last token when there is no padding or no pad_token_id), exactly as Transformers 4.46
// picks it.
class GPT2ForSequenceClassification : public GPT2PreTrainedModel {
 public:
  explicit GPT2ForSequenceClassification(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  std::shared_ptr<GPT2Model> transformer;
  std::shared_ptr<nn::Linear> score;
};

}  // namespace hfcpp
