// GPT-2's layers and the base model. The attention math follows Transformers' eager path op for
// op (scaling by a 0-d tensor, torch.where with finfo.min, then the additive padding mask), so
// outputs, attention probabilities and cached keys are bit-identical to Python's.
#include "hfcpp/models/gpt2.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "hfcpp/error.h"
#include "hfcpp/generation/attention_masks.h"
#include "hfcpp/logging.h"
#include "hfcpp/nn/attention.h"
#include "../decoder_cache.h"

namespace hfcpp {

// --- attention ---

GPT2Attention::GPT2Attention(const PretrainedConfig& config, std::int64_t layer_idx)
    : nn::Module("GPT2Attention"),
      embed_dim(config.hidden_size()),
      num_heads(config.num_attention_heads()),
      layer_idx(layer_idx),
      scale_attn_weights(config.get_or<bool>("scale_attn_weights", true)),
      scale_attn_by_inverse_layer_idx(config.get_or<bool>("scale_attn_by_inverse_layer_idx", false)),
      reorder_and_upcast_attn(config.get_or<bool>("reorder_and_upcast_attn", false)),
      attn_implementation(config.attn_implementation()) {
  const std::int64_t positions = config.get<std::int64_t>("max_position_embeddings");
  // Buffers first, as Python registers them (they are not in state_dict, but in buffers()).
  add_buffer("bias", at::ones({positions, positions}, at::kBool).tril().view({1, 1, positions, positions}),
             /*persistent=*/false);
  add_buffer("masked_bias", at::scalar_tensor(-1e4, at::TensorOptions().dtype(nn::ParameterScope::current().dtype)),
             /*persistent=*/false);
  head_dim = embed_dim / num_heads;
  if (head_dim * num_heads != embed_dim)
    throw ValueError("GPT-2: n_embd " + std::to_string(embed_dim) + " must be divisible by n_head " +
                     std::to_string(num_heads));
  c_attn = register_module("c_attn", std::make_shared<nn::Conv1D>(3 * embed_dim, embed_dim));
  c_proj = register_module("c_proj", std::make_shared<nn::Conv1D>(embed_dim, embed_dim));
  attn_dropout = register_module("attn_dropout", std::make_shared<nn::Dropout>(config.get<double>("attn_pdrop")));
  resid_dropout = register_module("resid_dropout", std::make_shared<nn::Dropout>(config.get<double>("resid_pdrop")));
}

double GPT2Attention::score_scale() const {
  double scale = 1.0;
  if (scale_attn_weights) scale /= std::pow(static_cast<double>(head_dim), 0.5);
  if (scale_attn_by_inverse_layer_idx) scale /= static_cast<double>(layer_idx + 1);
  return scale;
}

std::pair<at::Tensor, at::Tensor> GPT2Attention::eager(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                       const at::Tensor& causal, const at::Tensor& attention_mask,
                                                       const at::Tensor& head_mask) const {
  at::Tensor weights;
  if (reorder_and_upcast_attn) {
    // Scores in float32 with the scale folded into baddbmm's alpha (Megatron-LM's trick).
    const std::int64_t batch = q.size(0), heads = q.size(1), q_len = q.size(2), k_len = k.size(2);
    at::Tensor empty = at::empty({batch * heads, q_len, k_len}, q.options().dtype(at::kFloat));
    weights = at::baddbmm(empty, q.reshape({-1, q_len, head_dim}).to(at::kFloat),
                          k.transpose(-1, -2).reshape({-1, head_dim, k_len}).to(at::kFloat), /*beta=*/0,
                          /*alpha=*/score_scale())
                  .reshape({batch, heads, q_len, k_len});
  } else {
    weights = at::matmul(q, k.transpose(-1, -2));
    if (scale_attn_weights)
      weights = weights.div(at::full({}, std::pow(static_cast<double>(v.size(-1)), 0.5), weights.options()));
    if (scale_attn_by_inverse_layer_idx) weights = weights.div(static_cast<double>(layer_idx + 1));
  }
  weights = at::where(causal, weights, at::full({}, finfo_min(weights.scalar_type()), weights.options()));
  if (attention_mask.defined()) weights = weights.add(attention_mask);
  weights = at::softmax(weights, -1).to(v.scalar_type());
  weights = attn_dropout->forward(weights);
  if (head_mask.defined()) weights = weights.mul(head_mask);
  return {at::matmul(weights, v), weights};
}

std::pair<at::Tensor, at::Tensor> GPT2Attention::forward(const at::Tensor& hidden_states, Cache* cache,
                                                         const at::Tensor& cache_position, const at::Tensor& causal,
                                                         const at::Tensor& attention_mask, const at::Tensor& head_mask,
                                                         bool output_attentions, std::int64_t causal_keys) const {
  nn::ForwardScope hooks(*this);  // post-hooks run as it returns (no output access)
  const std::int64_t batch = hidden_states.size(0), seq = hidden_states.size(1);
  auto heads = [&](const at::Tensor& x) { return x.view({batch, seq, num_heads, head_dim}).permute({0, 2, 1, 3}); };
  const std::int64_t width = num_heads * head_dim;  // < embed_dim once heads are pruned, 0 with all of them
  const auto qkv = c_attn->forward(hidden_states).split_with_sizes({width, width, width}, 2);
  const at::Tensor q = heads(qkv[0]);
  at::Tensor k = heads(qkv[1]);
  at::Tensor v = heads(qkv[2]);
  if (cache != nullptr) std::tie(k, v) = cache->update(k, v, layer_idx, cache_position);

  at::Tensor context, weights;
  const bool dropout = is_training() && attn_dropout->p > 0;
  if (attn_implementation == "sdpa" && !output_attentions && !head_mask.defined() && !dropout) {
    context = attend_fused(q, k, v, causal, attention_mask, causal_keys);
  } else {
    if (attn_implementation == "sdpa" && (output_attentions || head_mask.defined()))
      logging::warning_once("GPT2 attention with attn_implementation \"sdpa\" cannot return attention weights or "
                            "apply a head mask; falling back to the eager implementation for this call.");
    // Causal rows for these queries, when the model left them to the causal rule.
    const at::Tensor rows = causal.defined() ? causal
                                             : buffer("bias")[0][0].narrow(0, causal_keys - seq, seq).narrow(1, 0, k.size(2));
    std::tie(context, weights) = eager(q, k, v, rows, attention_mask, head_mask);
  }
  context = context.permute({0, 2, 1, 3}).contiguous().view({batch, seq, width});
  return {resid_dropout->forward(c_proj->forward(context)), output_attentions ? weights : at::Tensor()};
}

at::Tensor GPT2Attention::attend_fused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                       const at::Tensor& causal, const at::Tensor& attention_mask,
                                       std::int64_t causal_keys) const {
  nn::AttentionOptions options;
  options.scale = score_scale();
  if (causal_keys >= 0) {
    // Keys past the new tokens (a static cache's unwritten slots) are cut off, the rest is causal.
    options.is_causal = true;
    at::Tensor mask = attention_mask;
    if (mask.defined() && mask.size(-1) != 1) mask = mask.narrow(-1, 0, causal_keys);
    return nn::scaled_dot_product_attention(q, k.narrow(2, 0, causal_keys), v.narrow(2, 0, causal_keys), mask,
                                            options);
  }
  // The eager masks as one additive float32 mask: finfo.min where causal hides a key, plus the
  // additive attention mask.
  at::Tensor mask = at::zeros(causal.sizes(), q.options().dtype(at::kFloat))
                        .masked_fill_(causal.logical_not(), finfo_min(at::kFloat));
  if (attention_mask.defined()) mask = mask + attention_mask.to(at::kFloat);
  return nn::scaled_dot_product_attention(q, k, v, mask, options);
}

// --- feed-forward and blocks ---

GPT2MLP::GPT2MLP(std::int64_t intermediate_size, const PretrainedConfig& config)
    : nn::Module("GPT2MLP"), act(nn::activation(config.get<std::string>("activation_function"))) {
  const std::int64_t embed_dim = config.hidden_size();
  c_fc = register_module("c_fc", std::make_shared<nn::Conv1D>(intermediate_size, embed_dim));
  c_proj = register_module("c_proj", std::make_shared<nn::Conv1D>(embed_dim, intermediate_size));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.get<double>("resid_pdrop")));
}

at::Tensor GPT2MLP::forward(const at::Tensor& hidden_states) const {
  nn::ForwardScope hooks(*this);
  return hooks.output(dropout->forward(c_proj->forward(act(c_fc->forward(hidden_states)))));
}

GPT2Block::GPT2Block(const PretrainedConfig& config, std::int64_t layer_idx) : nn::Module("GPT2Block") {
  if (config.get_or<bool>("add_cross_attention", false))
    throw UnsupportedError("GPT-2 with add_cross_attention (encoder-decoder use) is not supported by hfcpp");
  const std::int64_t hidden = config.hidden_size();
  const std::int64_t inner = config.get_or<std::int64_t>("n_inner", 4 * hidden);
  const double eps = config.get<double>("layer_norm_epsilon");
  ln_1 = register_module("ln_1", std::make_shared<nn::LayerNorm>(hidden, eps));
  attn = register_module("attn", std::make_shared<GPT2Attention>(config, layer_idx));
  ln_2 = register_module("ln_2", std::make_shared<nn::LayerNorm>(hidden, eps));
  mlp = register_module("mlp", std::make_shared<GPT2MLP>(inner, config));
}

// --- initialisation (GPT2PreTrainedModel._init_weights) ---

void GPT2PreTrainedModel::init_module_weights(torch::nn::Module& module) {
  c10::NoGradGuard no_grad;
  const double std = config().initializer_range();
  if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
    linear->weight().normal_(0.0, std);
    if (const at::Tensor* bias = linear->bias()) bias->zero_();
  } else if (auto* conv = dynamic_cast<nn::Conv1D*>(&module)) {
    conv->weight().normal_(0.0, std);
    if (const at::Tensor* bias = conv->bias()) bias->zero_();
  } else if (auto* embedding = dynamic_cast<nn::Embedding*>(&module)) {
    embedding->weight().normal_(0.0, std);
    if (embedding->padding_idx) embedding->weight()[*embedding->padding_idx].zero_();
  } else if (auto* norm = dynamic_cast<nn::LayerNorm*>(&module)) {
    if (const at::Tensor* bias = norm->find_param("bias")) bias->zero_();
    norm->param("weight").fill_(1.0);
  }
  // OpenAI's scheme: residual projections scaled by 1/sqrt(2 n_layer). Python matches the name
  // "c_proj.weight" in the module's recursive named_parameters, i.e. on the attention and MLP
  // modules, after their children were initialised.
  const double residual_std = std / std::sqrt(2.0 * static_cast<double>(config().num_hidden_layers()));
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    if (item.key() == "c_proj.weight") item.value().normal_(0.0, residual_std);
}

// --- GPT2Model ---

namespace {

ModelClassInfo gpt2_class(std::string name, bool can_generate) {
  ModelClassInfo info;
  info.name = std::move(name);
  info.model_type = "gpt2";
  info.base_model_prefix = "transformer";
  info.no_split_modules = {"GPT2Block"};
  info.supports_gradient_checkpointing = true;
  info.supports_sdpa = true;
  info.can_generate = can_generate;
  return info;
}

}  // namespace

const ModelClassInfo& GPT2Model::class_info() {
  static const ModelClassInfo info = gpt2_class("GPT2Model", false);
  return info;
}

GPT2Model::GPT2Model(std::shared_ptr<PretrainedConfig> config) : GPT2PreTrainedModel(std::move(config), class_info()) {
  PretrainedConfig& c = this->config();
  resolve_attn_implementation(c, class_info().name, class_info().supports_sdpa);
  const std::int64_t hidden = c.hidden_size();
  wte = register_module("wte", std::make_shared<nn::Embedding>(c.vocab_size(), hidden));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(c.get<std::int64_t>("max_position_embeddings"), hidden));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.get<double>("embd_pdrop")));
  h = register_module("h", std::make_shared<nn::ModuleList<GPT2Block>>());
  for (std::int64_t i = 0; i < c.num_hidden_layers(); ++i) h->push_back(std::make_shared<GPT2Block>(c, i));
  ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(hidden, c.get<double>("layer_norm_epsilon")));
  post_init();
}

void GPT2Model::set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) {
  wte = replace_module("wte", std::move(embeddings));
}

ModelOutput GPT2Model::forward(const ModelInputs& inputs) {
  nn::ForwardScope hooks(*this);
  if (inputs.input_ids.defined() == inputs.inputs_embeds.defined())
    throw ValueError("GPT2Model.forward needs exactly one of input_ids and inputs_embeds");
  if (inputs.input_ids.defined()) warn_if_padding_and_no_attention_mask(inputs.input_ids, inputs.attention_mask);
  // Extra leading dimensions (the choices of GPT2DoubleHeadsModel) are flattened into the batch.
  std::vector<std::int64_t> output_shape;
  at::Tensor hidden;
  if (inputs.input_ids.defined()) {
    if (inputs.input_ids.dim() < 2)
      throw ValueError("input_ids must be [batch, seq], got shape " + c10::str(inputs.input_ids.sizes()));
    output_shape = inputs.input_ids.sizes().vec();
    hidden = wte->forward(inputs.input_ids.reshape({-1, inputs.input_ids.size(-1)}));
  } else {
    output_shape = inputs.inputs_embeds.sizes().vec();
    output_shape.pop_back();
    hidden = inputs.inputs_embeds.reshape({-1, inputs.inputs_embeds.size(-2), inputs.inputs_embeds.size(-1)});
  }
  output_shape.push_back(hidden.size(-1));
  const std::int64_t batch = hidden.size(0), seq = hidden.size(1);
  const auto device = hidden.device();

  const bool checkpointing = gradient_checkpointing && is_training();
  auto [cache, past, cache_position] =
      detail::prepare_decoder_cache(inputs, config().use_cache(), checkpointing, seq, device);
  // Keys the layers attend over: the cached ones and these (a static cache: all its slots).
  const std::int64_t key_length = cache && cache->get_max_length() ? *cache->get_max_length() : past + seq;
  const std::int64_t max_positions = config().get<std::int64_t>("max_position_embeddings");
  if (key_length > max_positions)
    throw ValueError("GPT-2 attends over " + std::to_string(key_length) + " positions but n_positions is " +
                     std::to_string(max_positions));
  const at::Tensor position_ids =
      inputs.position_ids.defined() ? inputs.position_ids.reshape({-1, seq}) : cache_position.unsqueeze(0);
  hidden = hidden + wpe->forward(position_ids.to(device));
  if (inputs.token_type_ids.defined()) hidden = hidden + wte->forward(inputs.token_type_ids.reshape({-1, seq}));
  hidden = drop->forward(hidden);

  const auto head_masks = get_head_mask(inputs.head_mask, config().num_hidden_layers());
  const bool attentions = want_attentions(inputs);
  const bool hidden_states = want_hidden_states(inputs);
  // "sdpa" with the new tokens right after the cached ones attends by the causal rule, so the
  // [seq, keys] causal rows are not materialised.
  const bool any_head_mask = std::any_of(head_masks.begin(), head_masks.end(), [](const at::Tensor& m) { return m.defined(); });
  const std::int64_t causal_keys =
      config().attn_implementation() == "sdpa" && !attentions && !any_head_mask
          ? consecutive_causal_keys(cache_position, past, seq)
          : -1;
  // Causal rows for these queries from layer 0's bias buffer (every layer holds the same one).
  const at::Tensor causal =
      h->size() == 0 || causal_keys >= 0
          ? at::Tensor()
          : (*h)[0].attn->buffer("bias")[0][0].index_select(0, cache_position.to(device)).narrow(1, 0, key_length);
  at::Tensor mask;  // additive, [batch, 1, 1, keys] from a 2-D mask
  if (inputs.attention_mask.defined()) {
    if (inputs.attention_mask.dim() == 4) {
      mask = inputs.attention_mask;
    } else {
      mask = inputs.attention_mask.reshape({batch, -1}).unsqueeze(1).unsqueeze(1).to(dtype());
      mask = at::rsub(mask, 1.0).mul(finfo_min(dtype()));
      if (mask.size(-1) < key_length)  // a static cache's unwritten slots: hidden by the causal rows anyway
        mask = at::constant_pad_nd(mask, {0, key_length - mask.size(-1)}, 0.0);
    }
  }
  // One block's forward (Python's GPT2Block.forward). It captures by value: a checkpointed block
  // runs again in the backward pass, after this function has returned.
  auto block_forward = [cache = cache.get(), cache_position, causal, mask, attentions, causal_keys](
                           GPT2Block& block, const at::Tensor& head_mask) {
    return [=, &block](const std::vector<at::Tensor>& in) {
      nn::ForwardScope hooks(block);
      auto [attn_out, probs] = block.attn->forward(block.ln_1->forward(in[0]), cache, cache_position, causal, mask,
                                                   head_mask, attentions, causal_keys);
      at::Tensor out = attn_out + in[0];
      out = hooks.output(out + block.mlp->forward(block.ln_2->forward(out)));
      return attentions ? std::vector<at::Tensor>{out, probs} : std::vector<at::Tensor>{out};
    };
  };
  std::vector<at::Tensor> all_hidden, all_attentions;
  for (std::size_t i = 0; i < h->size(); ++i) {
    if (hidden_states) all_hidden.push_back(hidden);
    GPT2Block& block = (*h)[i];
    auto step = block_forward(block, head_masks[i]);
    // Not with a cache: the recomputation would write its keys and values a second time.
    const auto out = checkpointing && !cache ? nn::checkpoint(block, step, {hidden}, checkpoint_preserve_rng_state)
                                             : step({hidden});
    hidden = out[0];
    if (attentions) all_attentions.push_back(out[1]);
  }
  hidden = ln_f->forward(hidden).view(output_shape);
  if (hidden_states) all_hidden.push_back(hidden);

  ModelOutput out;
  out.set("last_hidden_state", hidden);
  out.past_key_values = cache;  // null unless use_cache or a cache was given
  if (hidden_states) out.set_tuple("hidden_states", std::move(all_hidden));
  if (attentions) out.set_tuple("attentions", std::move(all_attentions));
  return out;
}

}  // namespace hfcpp
