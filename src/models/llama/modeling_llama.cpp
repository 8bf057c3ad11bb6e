// Llama's layers and the base model, op for op as Transformers' eager path, so outputs,
// attention probabilities and cached keys equal Python's.
#include "hfcpp/models/llama.h"

#include <ATen/ATen.h>

#include <cmath>

#include "hfcpp/error.h"
#include "hfcpp/generation/attention_masks.h"
#include "hfcpp/logging.h"
#include "hfcpp/nn/attention.h"
#include "llama_decode.h"
#include "../decoder_cache.h"

namespace hfcpp {
namespace {

std::int64_t head_dim_of(const PretrainedConfig& config) {
  const std::int64_t head_dim = config.get_or<std::int64_t>("head_dim", 0);
  return head_dim > 0 ? head_dim : config.hidden_size() / config.num_attention_heads();
}

// Qwen2 puts biases on q/k/v but not on o; Llama's attention_bias covers all four.
bool qkv_bias(const PretrainedConfig& config) {
  return config.model_type() == "qwen2" || config.get_or<bool>("attention_bias", false);
}
bool output_bias(const PretrainedConfig& config) {
  return config.model_type() != "qwen2" && config.get_or<bool>("attention_bias", false);
}

// [batch, kv_heads, seq, dim] -> [batch, kv_heads * n_rep, seq, dim], each kv head repeated for
// the query heads of its group.
at::Tensor repeat_kv(const at::Tensor& x, std::int64_t n_rep) {
  if (n_rep == 1) return x;
  const std::int64_t batch = x.size(0), kv_heads = x.size(1), seq = x.size(2), dim = x.size(3);
  return x.unsqueeze(2).expand({batch, kv_heads, n_rep, seq, dim}).reshape({batch, kv_heads * n_rep, seq, dim});
}

}  // namespace

// --- MLP ---

LlamaMLP::LlamaMLP(const PretrainedConfig& config)
    : nn::Module("LlamaMLP"), act_fn(nn::activation(config.get<std::string>("hidden_act"))) {
  const std::int64_t hidden = config.hidden_size();
  const std::int64_t intermediate = config.get<std::int64_t>("intermediate_size");
  const bool bias = config.get_or<bool>("mlp_bias", false);
  gate_proj = register_module("gate_proj", std::make_shared<nn::Linear>(hidden, intermediate, bias));
  up_proj = register_module("up_proj", std::make_shared<nn::Linear>(hidden, intermediate, bias));
  down_proj = register_module("down_proj", std::make_shared<nn::Linear>(intermediate, hidden, bias));
}

at::Tensor LlamaMLP::forward(const at::Tensor& x) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(down_proj->forward(act_fn(gate_proj->forward(x)).mul(up_proj->forward(x))));
}

// --- attention ---

LlamaAttention::LlamaAttention(const PretrainedConfig& config, std::int64_t layer_idx)
    : nn::Module("LlamaAttention"),
      layer_idx(layer_idx),
      num_heads(config.num_attention_heads()),
      num_key_value_heads(config.get_or<std::int64_t>("num_key_value_heads", config.num_attention_heads())),
      head_dim(head_dim_of(config)),
      attention_dropout(config.get_or<double>("attention_dropout", 0.0)),
      attn_implementation(config.attn_implementation()) {
  if (num_key_value_heads <= 0 || num_heads % num_key_value_heads != 0)
    throw ValueError("num_attention_heads (" + std::to_string(num_heads) + ") must be a multiple of "
                     "num_key_value_heads (" + std::to_string(num_key_value_heads) + ")");
  const std::int64_t hidden = config.hidden_size();
  q_proj = register_module("q_proj", std::make_shared<nn::Linear>(hidden, num_heads * head_dim, qkv_bias(config)));
  k_proj = register_module("k_proj",
                           std::make_shared<nn::Linear>(hidden, num_key_value_heads * head_dim, qkv_bias(config)));
  v_proj = register_module("v_proj",
                           std::make_shared<nn::Linear>(hidden, num_key_value_heads * head_dim, qkv_bias(config)));
  o_proj = register_module("o_proj", std::make_shared<nn::Linear>(num_heads * head_dim, hidden, output_bias(config)));
  rotary_emb = register_module("rotary_emb", std::make_shared<RotaryEmbedding>(config));
}

std::pair<at::Tensor, at::Tensor> LlamaAttention::forward(const at::Tensor& hidden_states, const at::Tensor& cos,
                                                          const at::Tensor& sin, const at::Tensor& mask, Cache* cache,
                                                          const at::Tensor& cache_position, bool output_attentions,
                                                          std::int64_t causal_keys) const {
  nn::ForwardScope hooks(*this);  // post-hooks run as it returns (no output access)
  const std::int64_t batch = hidden_states.size(0), seq = hidden_states.size(1);
  auto heads = [&](const at::Tensor& x) { return x.view({batch, seq, -1, head_dim}).transpose(1, 2); };
  at::Tensor q = heads(q_proj->forward(hidden_states));
  at::Tensor k = heads(k_proj->forward(hidden_states));
  at::Tensor v = heads(v_proj->forward(hidden_states));
  std::tie(q, k) = apply_rotary_pos_emb(q, k, cos, sin);
  if (cache != nullptr) std::tie(k, v) = cache->update(k, v, layer_idx, cache_position);

  const double dropout = is_training() ? attention_dropout : 0.0;
  if (attn_implementation == "sdpa" && !output_attentions) {
    // The fused kernel reads the kv heads of a group in place (no repeat_kv) and, in causal mode,
    // only the keys written so far (a static cache's later slots are cut off, not masked).
    nn::AttentionOptions options;
    options.dropout_p = dropout;
    at::Tensor keys = k, values = v, attend_mask = mask;
    if (causal_keys >= 0) {
      options.is_causal = true;
      keys = k.narrow(2, 0, causal_keys);
      values = v.narrow(2, 0, causal_keys);
    } else if (mask.defined()) {
      attend_mask = mask.narrow(-1, 0, k.size(-2));
    }
    const at::Tensor context = nn::scaled_dot_product_attention(q, keys, values, attend_mask, options);
    return {o_proj->forward(context.transpose(1, 2).reshape({batch, seq, -1})), at::Tensor()};
  }
  if (attn_implementation == "sdpa")
    logging::warning_once("Llama attention with attn_implementation \"sdpa\" cannot return attention weights; "
                          "falling back to the eager implementation for this call.");
  at::Tensor additive = mask;
  if (causal_keys >= 0) {
    // Given the sdpa form of the mask: rebuild the eager one (only reached when a caller mixes them).
    const at::Tensor padding = mask.defined() ? mask.reshape({batch, -1}).to(at::kLong) : at::Tensor();
    additive = causal_mask_with_cache_position(padding, seq, k.size(-2), q.scalar_type(),
                                               at::arange(causal_keys - seq, causal_keys, cache_position.options()), batch);
  }
  const std::int64_t groups = num_heads / num_key_value_heads;
  k = repeat_kv(k, groups);
  v = repeat_kv(v, groups);
  at::Tensor weights = at::matmul(q, k.transpose(2, 3)).div(std::sqrt(static_cast<double>(head_dim)));
  if (additive.defined()) weights = weights.add(additive.narrow(-1, 0, k.size(-2)));
  weights = at::softmax(weights, -1, at::kFloat).to(q.scalar_type());
  if (dropout > 0) weights = at::dropout(weights, dropout, /*train=*/true);
  at::Tensor context = at::matmul(weights, v).transpose(1, 2).contiguous().reshape({batch, seq, -1});
  return {o_proj->forward(context), output_attentions ? weights : at::Tensor()};
}

// --- decoder layer ---

LlamaDecoderLayer::LlamaDecoderLayer(const PretrainedConfig& config, std::int64_t layer_idx)
    : nn::Module("LlamaDecoderLayer") {
  const std::int64_t hidden = config.hidden_size();
  const double eps = config.get<double>("rms_norm_eps");
  self_attn = register_module("self_attn", std::make_shared<LlamaAttention>(config, layer_idx));
  mlp = register_module("mlp", std::make_shared<LlamaMLP>(config));
  input_layernorm = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(hidden, eps));
  post_attention_layernorm = register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(hidden, eps));
}

// --- initialisation (LlamaPreTrainedModel._init_weights) ---

void LlamaPreTrainedModel::init_module_weights(torch::nn::Module& module) {
  c10::NoGradGuard no_grad;
  const double std = config().initializer_range();
  if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
    linear->weight().normal_(0.0, std);
    if (const at::Tensor* bias = linear->bias()) bias->zero_();
  } else if (auto* embedding = dynamic_cast<nn::Embedding*>(&module)) {
    embedding->weight().normal_(0.0, std);
    if (embedding->padding_idx) embedding->weight()[*embedding->padding_idx].zero_();
  }
}

// --- LlamaModel ---

namespace {

// What LlamaConfig / MistralConfig derive in __init__ and keep as attributes (so they are saved).
std::shared_ptr<PretrainedConfig> with_derived_fields(std::shared_ptr<PretrainedConfig> config) {
  PretrainedConfig& c = *config;
  const std::string type = c.model_type();
  if (!c.has("num_key_value_heads") || c.at("num_key_value_heads").is_null())
    c.set("num_key_value_heads", c.num_attention_heads());
  if (type != "qwen2" && (!c.has("head_dim") || c.at("head_dim").is_null()))
    c.set("head_dim", c.hidden_size() / c.num_attention_heads());
  // Legacy rope_scaling {"type": ...} also gets "rope_type".
  if (c.has("rope_scaling") && c.at("rope_scaling").is_object() && c.at("rope_scaling").contains("type") &&
      !c.at("rope_scaling").contains("rope_type")) {
    json scaling = c.at("rope_scaling");
    scaling["rope_type"] = scaling["type"];
    c.set("rope_scaling", scaling);
  }
  return config;
}

std::optional<std::int64_t> sliding_window_of(const PretrainedConfig& config) {
  const std::string type = config.model_type();
  const bool windowed = type == "mistral" || (type == "qwen2" && config.get_or<bool>("use_sliding_window", false));
  if (!windowed || !config.has("sliding_window") || config.at("sliding_window").is_null()) return std::nullopt;
  return config.get<std::int64_t>("sliding_window");
}

}  // namespace

const ModelClassInfo& LlamaModel::class_info() {
  static const ModelClassInfo info = [] {
    ModelClassInfo i;
    i.name = "LlamaModel";
    i.model_type = "llama";
    i.base_model_prefix = "model";
    i.no_split_modules = {"LlamaDecoderLayer"};
    i.supports_gradient_checkpointing = true;
    i.supports_sdpa = true;
    return i;
  }();
  return info;
}

LlamaModel::LlamaModel(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info)
    : LlamaPreTrainedModel(with_derived_fields(std::move(config)), info) {
  PretrainedConfig& c = this->config();
  resolve_attn_implementation(c, info.name, info.supports_sdpa);
  sliding_window = sliding_window_of(c);
  const std::string act = c.get<std::string>("hidden_act");
  silu_gated_ = act == "silu" || act == "swish";
  const std::int64_t hidden = c.hidden_size();
  embed_tokens = register_module("embed_tokens", std::make_shared<nn::Embedding>(c.vocab_size(), hidden, c.pad_token_id()));
  layers = register_module("layers", std::make_shared<nn::ModuleList<LlamaDecoderLayer>>());
  for (std::int64_t i = 0; i < c.num_hidden_layers(); ++i) layers->push_back(std::make_shared<LlamaDecoderLayer>(c, i));
  norm = register_module("norm", std::make_shared<nn::RMSNorm>(hidden, c.get<double>("rms_norm_eps")));
  rotary_emb = register_module("rotary_emb", std::make_shared<RotaryEmbedding>(c));
  post_init();
}

void LlamaModel::set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) {
  embed_tokens = replace_module("embed_tokens", std::move(embeddings));
}

namespace {

// One new token at position `past` (cache_position as generate() builds it), read without a
// tensor op: this runs once per decoded token.
bool follows_cache(const at::Tensor& cache_position, std::int64_t past) {
  return cache_position.defined() && cache_position.numel() == 1 && cache_position.device().is_cpu() &&
         cache_position.scalar_type() == at::kLong && cache_position.data_ptr<std::int64_t>()[0] == past;
}

}  // namespace

ModelOutput LlamaModel::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  if (inputs.input_ids.defined() == inputs.inputs_embeds.defined())
    throw ValueError(PreTrainedModel::class_info().name + ".forward needs exactly one of input_ids and inputs_embeds");
  if (inputs.input_ids.defined()) {
    if (inputs.input_ids.dim() != 2)
      throw ValueError("input_ids must be [batch, seq], got shape " + c10::str(inputs.input_ids.sizes()));
    warn_if_padding_and_no_attention_mask(inputs.input_ids, inputs.attention_mask);
  }
  at::Tensor hidden = inputs.inputs_embeds.defined() ? inputs.inputs_embeds : embed_tokens->forward(inputs.input_ids);
  const std::int64_t batch = hidden.size(0), seq = hidden.size(1);
  const auto device = hidden.device();

  const bool checkpointing = gradient_checkpointing && is_training();
  auto [cache, past, cache_position] =
      detail::prepare_decoder_cache(inputs, config().use_cache(), checkpointing, seq, device);
  const at::Tensor position_ids = inputs.position_ids.defined() ? inputs.position_ids.to(device) : cache_position.unsqueeze(0);

  const bool attentions = want_attentions(inputs);
  const bool hidden_states = want_hidden_states(inputs);
  // The decode kernels replace the forwards of the layers and the final norm: with hooks there,
  // the step takes the layers' own forwards so the hooks run.
  const bool decode_step = use_decode_kernels && seq == 1 && cache && !attentions && !hidden_states && !is_training() &&
                           detail::decode_kernels_apply(hidden) && silu_gated_ &&
                           (!nn::Module::any_forward_hooks() ||
                            (!layers->forward_hooks_in_subtree() && !norm->forward_hooks_in_subtree()));
  const at::Tensor& attention_mask = inputs.attention_mask;
  const bool window_covers_keys = !sliding_window || past + seq <= *sliding_window;
  // A decoding step right after the cached tokens reads exactly the keys before it, so the kernel
  // needs only the 2-D padding mask: building the 4-D additive mask costs ~60 us a token.
  const bool padding_mask_suffices =
      decode_step && window_covers_keys && follows_cache(cache_position, past) &&
      (!attention_mask.defined() ||
       (attention_mask.dim() == 2 && attention_mask.scalar_type() == at::kLong && attention_mask.device().is_cpu() &&
        attention_mask.size(0) == batch && attention_mask.size(1) >= past + seq));
  // "sdpa" with the new tokens right after the cached ones: causal by rule, only padding as a mask.
  // A sliding window is then a no-op while the keys fit in it.
  const std::int64_t capacity = cache ? cache->get_max_length().value_or(0) : 0;  // 0: grows
  std::int64_t causal_keys = -1;
  if (!decode_step && !attentions && config().attn_implementation() == "sdpa" && window_covers_keys &&
      (!attention_mask.defined() ||
       (attention_mask.dim() == 2 && (capacity == 0 || attention_mask.size(-1) <= capacity))))
    causal_keys = consecutive_causal_keys(cache_position, past, seq);
  at::Tensor mask;
  if (padding_mask_suffices) {
    if (attention_mask.defined()) mask = attention_mask.contiguous();
  } else if (causal_keys >= 0) {
    mask = padding_keep_mask(attention_mask, causal_keys);
  } else {
    // Keys: a static cache's every slot, else the attention mask's length (or cached + new + 1, as
    // Transformers; the mask is cut to the keys in each layer).
    std::int64_t target_length = past + seq + 1;
    if (capacity > 0) target_length = capacity;
    else if (attention_mask.defined() && attention_mask.dim() == 2) target_length = attention_mask.size(-1);
    mask = causal_mask_with_cache_position(attention_mask, seq, target_length, hidden.scalar_type(), cache_position,
                                           batch, sliding_window);
  }
  const auto [cos, sin] = rotary_emb->forward(position_ids, hidden.scalar_type());

  if (decode_step && (!mask.defined() || mask.numel() == batch * mask.size(-1))) {
    ModelOutput out;
    out.set("last_hidden_state", decode_layers(hidden, cos, sin, mask, *cache, cache_position));
    out.past_key_values = cache;
    return out;
  }
  // One layer's forward (Python's LlamaDecoderLayer.forward). It captures by value: a checkpointed
  // layer runs again in the backward pass, after this function has returned.
  auto layer_forward = [cache = cache.get(), cos = cos, sin = sin, mask, cache_position, attentions,
                        causal_keys](LlamaDecoderLayer& layer) {
    return [=, &layer](const std::vector<at::Tensor>& in) {
      nn::ForwardScope hooks(layer);
      auto [attn_out, probs] = layer.self_attn->forward(layer.input_layernorm->forward(in[0]), cos, sin, mask, cache,
                                                        cache_position, attentions, causal_keys);
      at::Tensor out = in[0] + attn_out;
      out = hooks.output(out + layer.mlp->forward(layer.post_attention_layernorm->forward(out)));
      return attentions ? std::vector<at::Tensor>{out, probs} : std::vector<at::Tensor>{out};
    };
  };
  std::vector<at::Tensor> all_hidden, all_attentions;
  for (const auto& layer : *layers) {
    if (hidden_states) all_hidden.push_back(hidden);
    auto step = layer_forward(*layer);
    // Not with a cache: the recomputation would write its keys and values a second time.
    const auto out = checkpointing && !cache ? nn::checkpoint(*layer, step, {hidden}, checkpoint_preserve_rng_state)
                                             : step({hidden});
    hidden = out[0];
    if (attentions) all_attentions.push_back(out[1]);
  }
  hidden = norm->forward(hidden);
  if (hidden_states) all_hidden.push_back(hidden);

  ModelOutput out;
  out.set("last_hidden_state", hidden);
  out.past_key_values = cache;  // null unless use_cache or a cache was given
  if (hidden_states) out.set_tuple("hidden_states", std::move(all_hidden));
  if (attentions) out.set_tuple("attentions", std::move(all_attentions));
  return out;
}

}  // namespace hfcpp
