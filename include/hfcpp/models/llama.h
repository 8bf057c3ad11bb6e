// Llama (Transformers' modeling_llama.py): RMSNorm, rotary embeddings with every rope_scaling
// type, grouped-query attention, SwiGLU MLP. Module and parameter names equal Transformers'.
//
// Mistral- and Qwen2-shaped checkpoints load through the same classes (model types "mistral" and
// "qwen2"): Mistral adds a sliding attention window, Qwen2 biases on q/k/v only. Qwen2's sliding
// window (use_sliding_window, off in its released checkpoints) is applied to every layer, not only
// from max_window_layers on; for sequences shorter than the window this makes no difference.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "hfcpp/generation/cache.h"
#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/models/rope.h"
#include "hfcpp/nn/layers.h"

namespace hfcpp {

class LlamaMLP : public nn::Module {
 public:
  explicit LlamaMLP(const PretrainedConfig& config);
  // down_proj(act(gate_proj(x)) * up_proj(x))
  at::Tensor forward(const at::Tensor& x) const;
  std::shared_ptr<nn::Linear> gate_proj, up_proj, down_proj;
  nn::Activation act_fn;
};

class LlamaAttention : public nn::Module {
 public:
  LlamaAttention(const PretrainedConfig& config, std::int64_t layer_idx);
  // hidden_states [batch, seq, hidden]; cos/sin [batch, seq, head_dim]; mask additive
  // [batch, 1, seq, >= keys] or undefined. Returns the output and, when asked, the attention
  // probabilities [batch, heads, seq, keys].
  // causal_keys >= 0 (attn_implementation "sdpa", see consecutive_causal_keys): the queries are
  // the last of the first causal_keys keys, attended causally, and mask is only padding: a bool
  // keep mask [batch, 1, 1, causal_keys] or undefined.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden_states, const at::Tensor& cos,
                                            const at::Tensor& sin, const at::Tensor& mask, Cache* cache,
                                            const at::Tensor& cache_position, bool output_attentions,
                                            std::int64_t causal_keys = -1) const;
  std::int64_t layer_idx, num_heads, num_key_value_heads, head_dim;
  double attention_dropout;
  std::string attn_implementation;
  std::shared_ptr<nn::Linear> q_proj, k_proj, v_proj, o_proj;
  // Deprecated in Transformers 4.46 but still built: its inv_freq buffer counts in the memory
  // footprint. Positions come from the model-level rotary embedding.
  std::shared_ptr<RotaryEmbedding> rotary_emb;
};

class LlamaDecoderLayer : public nn::Module {
 public:
  LlamaDecoderLayer(const PretrainedConfig& config, std::int64_t layer_idx);
  std::shared_ptr<LlamaAttention> self_attn;
  std::shared_ptr<LlamaMLP> mlp;
  std::shared_ptr<nn::RMSNorm> input_layernorm, post_attention_layernorm;
};

// LlamaPreTrainedModel: normal(0, initializer_range) for Linear and Embedding weights, zero
// biases and padding rows; RMSNorm weights start at one.
class LlamaPreTrainedModel : public PreTrainedModel {
 public:
  using PreTrainedModel::PreTrainedModel;
  void init_module_weights(torch::nn::Module& module) override;
};

class LlamaModel : public LlamaPreTrainedModel, public nn::GradientCheckpointingLayers {
 public:
  explicit LlamaModel(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info = class_info());
  static const ModelClassInfo& class_info();
  // input_ids / inputs_embeds [batch, seq]; attention_mask [batch, keys] (1 = token) or a 4-D
  // additive mask; position_ids default to cache_position, which defaults to the positions after
  // the cached tokens. Returns last_hidden_state, past_key_values (when use_cache),
  // hidden_states, attentions.
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Embedding* get_input_embeddings() override { return embed_tokens.get(); }
  void set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) override;
  std::shared_ptr<nn::Embedding> embed_tokens;
  std::shared_ptr<nn::ModuleList<LlamaDecoderLayer>> layers;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<RotaryEmbedding> rotary_emb;
  std::optional<std::int64_t> sliding_window;  // Mistral (and Qwen2 with use_sliding_window)
  // One-token steps with a cache (decoding) run every layer through fused CPU kernels instead of
  // libtorch ops when no gradients, attentions or hidden states are asked for: same results up
  // to summation order, a fraction of the per-token overhead. False forces the eager path.
  bool use_decode_kernels = true;

 private:
  // The decoder layers and final norm for hidden [batch, 1, hidden] through the decode kernels.
  at::Tensor decode_layers(at::Tensor hidden, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                           Cache& cache, const at::Tensor& cache_position);
  bool silu_gated_ = true;  // the decode kernels implement SiLU gating only
};

class LlamaForCausalLM : public LlamaPreTrainedModel {
 public:
  explicit LlamaForCausalLM(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info = class_info(),
                            const ModelClassInfo& base_info = LlamaModel::class_info());
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Module* get_output_embeddings() override { return lm_head.get(); }
  std::shared_ptr<LlamaModel> model;
  std::shared_ptr<nn::Linear> lm_head;
};

// Scores each sequence at the token before its first pad token (see pool_before_first_pad).
class LlamaForSequenceClassification : public LlamaPreTrainedModel {
 public:
  explicit LlamaForSequenceClassification(std::shared_ptr<PretrainedConfig> config,
                                          const ModelClassInfo& info = class_info(),
                                          const ModelClassInfo& base_info = LlamaModel::class_info());
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  std::shared_ptr<LlamaModel> model;
  std::shared_ptr<nn::Linear> score;
};

// Mistral and Qwen2: the Llama classes under their own names and model types.
class MistralModel : public LlamaModel {
 public:
  explicit MistralModel(std::shared_ptr<PretrainedConfig> config) : LlamaModel(std::move(config), class_info()) {}
  static const ModelClassInfo& class_info();
};
class MistralForCausalLM : public LlamaForCausalLM {
 public:
  explicit MistralForCausalLM(std::shared_ptr<PretrainedConfig> config)
      : LlamaForCausalLM(std::move(config), class_info(), MistralModel::class_info()) {}
  static const ModelClassInfo& class_info();
};
class MistralForSequenceClassification : public LlamaForSequenceClassification {
 public:
  explicit MistralForSequenceClassification(std::shared_ptr<PretrainedConfig> config)
      : LlamaForSequenceClassification(std::move(config), class_info(), MistralModel::class_info()) {}
  static const ModelClassInfo& class_info();
};
class Qwen2Model : public LlamaModel {
 public:
  explicit Qwen2Model(std::shared_ptr<PretrainedConfig> config) : LlamaModel(std::move(config), class_info()) {}
  static const ModelClassInfo& class_info();
};
class Qwen2ForCausalLM : public LlamaForCausalLM {
 public:
  explicit Qwen2ForCausalLM(std::shared_ptr<PretrainedConfig> config)
      : LlamaForCausalLM(std::move(config), class_info(), Qwen2Model::class_info()) {}
  static const ModelClassInfo& class_info();
};
class Qwen2ForSequenceClassification : public LlamaForSequenceClassification {
 public:
  explicit Qwen2ForSequenceClassification(std::shared_ptr<PretrainedConfig> config)
      : LlamaForSequenceClassification(std::move(config), class_info(), Qwen2Model::class_info()) {}
  static const ModelClassInfo& class_info();
};

}  // namespace hfcpp
