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
  if (rows > 8 || !decode_kernels_apply(x) || !w.is_contiguous() || w.scalar_type() != x.scalar_type() ||
      linear.has_forward_hooks())
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

// The steps of one x [rows, features] in one pass of the kernel; outputs [rows, out_features].
void project(const at::Tensor& x, std::initializer_list<Step> steps) {
  static const at::Tensor none;
  std::vector<detail::decode::Projection> projections;
  projections.reserve(steps.size());
  for (const Step& step : steps) {
    const at::Tensor* bias = step.linear->bias();
    projections.push_back({step.linear->weight(), bias ? *bias : none, step.residual ? *step.residual : none, *step.out,
                           step.up ? &step.up->weight() : nullptr, step.up ? step.up->bias() : nullptr});
  }
  detail::decode::linear_many(x, projections);
}

// The activations of one decoding step, kept per thread between steps: allocating them in every
// layer cost more than the small ops that fill them. Shapes as [rows, features]; the head-axis views
// are made once.
struct StepBuffers {
  std::vector<std::int64_t> shape;  // batch, width, heads, kv heads, head_dim, intermediate
  at::ScalarType dtype = at::kFloat;
  at::Tensor normed, q, key, value, context, gated;
  at::Tensor q_heads, key_heads, value_heads, context_heads, key_tokens, value_tokens;

  void fit(std::vector<std::int64_t> want, const at::TensorOptions& options) {
    if (want == shape && options.dtype() == dtype && normed.defined()) return;
    shape = std::move(want);
    dtype = options.dtype().toScalarType();
    const std::int64_t batch = shape[0], width = shape[1], heads = shape[2], kv_heads = shape[3], head_dim = shape[4];
    normed = at::empty({batch, width}, options);
    q = at::empty({batch, heads * head_dim}, options);
    key = at::empty({batch, kv_heads * head_dim}, options);
    value = at::empty({batch, kv_heads * head_dim}, options);
    context = at::empty({batch, heads * head_dim}, options);
    gated = at::empty({batch, shape[5]}, options);
    q_heads = q.view({batch, heads, head_dim});
    key_heads = key.view({batch, kv_heads, head_dim});
    value_heads = value.view({batch, kv_heads, head_dim});
    context_heads = context.view({batch, heads, head_dim});
    key_tokens = key.view({batch, kv_heads, 1, head_dim});  // as the cache takes them
    value_tokens = value.view({batch, kv_heads, 1, head_dim});
  }
};

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
  const LlamaAttention& first = *(*layers)[0].self_attn;
  thread_local StepBuffers step;
  step.fit({batch, width, first.num_heads, first.num_key_value_heads, first.head_dim,
            (*layers)[0].mlp->gate_proj->out_features()},
           options);
  for (const auto& layer : *layers) {
    const LlamaAttention& attn = *layer->self_attn;
    k::rms_norm(hidden, layer->input_layernorm->weight(), layer->input_layernorm->eps, step.normed);
    project(step.normed, {{attn.q_proj.get(), &step.q}, {attn.k_proj.get(), &step.key}, {attn.v_proj.get(), &step.value}});
    k::rotary(step.q_heads, cos_rows, sin_rows);
    k::rotary(step.key_heads, cos_rows, sin_rows);
    const auto [keys, values] = cache.update(step.key_tokens, step.value_tokens, attn.layer_idx, cache_position);
    k::attention(step.q_heads, keys.contiguous(), values.contiguous(), cache.get_seq_length(attn.layer_idx), mask_rows,
                 std::sqrt(static_cast<double>(attn.head_dim)), step.context_heads);
    project(step.context, {{attn.o_proj.get(), &hidden, &hidden}});

    k::rms_norm(hidden, layer->post_attention_layernorm->weight(), layer->post_attention_layernorm->eps, step.normed);
    const LlamaMLP& mlp = *layer->mlp;
    project(step.normed, {{mlp.gate_proj.get(), &step.gated, nullptr, mlp.up_proj.get()}});
    project(step.gated, {{mlp.down_proj.get(), &hidden, &hidden}});
  }
  // The output outlives the step: a tensor of its own.
  at::Tensor out = at::empty({batch, 1, width}, options);
  at::Tensor out_rows = out.view({batch, width});
  k::rms_norm(hidden, norm->weight(), norm->eps, out_rows);
  return out;
}

}  // namespace hfcpp
