// Llama's decoding fast path: per layer one kernel call for each of RMSNorm, the q/k/v, o, gated
// gate/up and down projections (the residual adds fused into o and down, SiLU-gating into gate/up),
// the rotary embedding and the attention over the cache, instead of ~45 libtorch ops.
#include <ATen/ATen.h>

#include <cmath>

#include "../../generation/decode_kernels.h"
#include "hfcpp/models/llama.h"
#include "llama_decode.h"

namespace hfcpp {

namespace detail {

bool decode_kernels_apply(const at::Tensor& x) {
  return !at::GradMode::is_enabled() && x.device().is_cpu() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

at::Tensor project_rows(const nn::Linear& linear, const at::Tensor& x) {
  const at::Tensor& w = linear.weight();
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(1, x.size(-1));
  if (rows > 8 || !decode_kernels_apply(x) || !w.is_contiguous() || w.scalar_type() != x.scalar_type())
    return linear.forward(x);
  auto shape = x.sizes().vec();
  shape.back() = w.size(0);
  at::Tensor out = at::empty(shape, x.options());
  const at::Tensor* bias = linear.bias();
  decode::linear(x.contiguous(), w, bias ? *bias : at::Tensor(), {}, out);
  return out;
}

}  // namespace detail

namespace {

// One projection of a decoding step: out = linear(x) (+ residual, which may be out itself), or
// with `up`, out = silu(linear(x)) * up(x).
struct Step {
  const nn::Linear* linear;
  at::Tensor* out;
  const at::Tensor* residual = nullptr;
  const nn::Linear* up = nullptr;
};

// The steps of one x in one pass of the kernel. x and the outputs may carry a head axis
// ([batch, heads, head_dim]); the kernel sees them as the [batch, features] matrices they are.
void project(const at::Tensor& x, std::initializer_list<Step> steps) {
  // Reserved up front: the projections hold references into these.
  std::vector<at::Tensor> rows_out, biases;
  rows_out.reserve(steps.size());
  biases.reserve(steps.size());
  const at::Tensor none;
  std::vector<detail::decode::Projection> projections;
  for (const Step& step : steps) {
    rows_out.push_back(step.out->view({step.out->size(0), -1}));
    biases.push_back(step.linear->bias() ? *step.linear->bias() : at::Tensor());
    projections.push_back({step.linear->weight(), biases.back(), step.residual ? *step.residual : none, rows_out.back(),
                           step.up ? &step.up->weight() : nullptr, step.up ? step.up->bias() : nullptr});
  }
  detail::decode::linear_many(x.view({x.size(0), -1}), projections);
}

}  // namespace

at::Tensor LlamaModel::decode_layers(at::Tensor hidden, const at::Tensor& cos, const at::Tensor& sin,
                                     const at::Tensor& mask, Cache& cache, const at::Tensor& cache_position) {
  namespace k = detail::decode;
  const std::int64_t batch = hidden.size(0), width = hidden.size(2);
  const auto options = hidden.options();
  hidden = hidden.reshape({batch, width}).clone();  // updated in place by the residual adds
  const at::Tensor cos_rows = cos.reshape({batch, -1}).contiguous();
  const at::Tensor sin_rows = sin.reshape({batch, -1}).contiguous();
  const at::Tensor mask_rows = mask.defined() ? mask.reshape({batch, -1}) : at::Tensor();
  at::Tensor normed = at::empty({batch, width}, options);
  for (const auto& layer : *layers) {
    const LlamaAttention& attn = *layer->self_attn;
    const std::int64_t heads = attn.num_heads, kv_heads = attn.num_key_value_heads, head_dim = attn.head_dim;
    k::rms_norm(hidden, layer->input_layernorm->weight(), layer->input_layernorm->eps, normed);
    at::Tensor q = at::empty({batch, heads, head_dim}, options);
    at::Tensor key = at::empty({batch, kv_heads, head_dim}, options);
    at::Tensor value = at::empty({batch, kv_heads, head_dim}, options);
    project(normed, {{attn.q_proj.get(), &q}, {attn.k_proj.get(), &key}, {attn.v_proj.get(), &value}});
    k::rotary(q, cos_rows, sin_rows);
    k::rotary(key, cos_rows, sin_rows);
    auto [keys, values] = cache.update(key.unsqueeze(2), value.unsqueeze(2), attn.layer_idx, cache_position);
    const at::Tensor k_cache = keys.contiguous(), v_cache = values.contiguous();
    at::Tensor context = at::empty({batch, heads, head_dim}, options);
    k::attention(q, k_cache, v_cache, cache.get_seq_length(attn.layer_idx), mask_rows,
                 std::sqrt(static_cast<double>(head_dim)), context);
    project(context, {{attn.o_proj.get(), &hidden, &hidden}});

    k::rms_norm(hidden, layer->post_attention_layernorm->weight(), layer->post_attention_layernorm->eps, normed);
    const LlamaMLP& mlp = *layer->mlp;
    const std::int64_t intermediate = mlp.gate_proj->out_features();
    at::Tensor gated = at::empty({batch, intermediate}, options);
    project(normed, {{mlp.gate_proj.get(), &gated, nullptr, mlp.up_proj.get()}});
    project(gated, {{mlp.down_proj.get(), &hidden, &hidden}});
  }
  k::rms_norm(hidden, norm->weight(), norm->eps, normed);
  return normed.view({batch, 1, width});
}

}  // namespace hfcpp
