#include "hfcpp/modeling/squad_head.h"

#include <ATen/ATen.h>

#include "hfcpp/error.h"
#include "losses.h"

namespace hfcpp {
namespace {

// Python's masking of impossible positions: x * (1 - p_mask) - big * p_mask, with a big value that
// float16 weights can hold.
at::Tensor mask_logits(const at::Tensor& x, const at::Tensor& p_mask, c10::ScalarType weight_dtype) {
  if (!p_mask.defined()) return x;
  const double big = weight_dtype == at::kHalf ? 65500.0 : 1e30;
  return x * (1 - p_mask) - big * p_mask;
}

// hidden_states[b, index[b], :] for index [batch]: [batch, 1, hidden].
at::Tensor gather_positions(const at::Tensor& hidden_states, const at::Tensor& index) {
  const std::int64_t hidden = hidden_states.size(-1);
  return hidden_states.gather(-2, index.to(hidden_states.device()).view({-1, 1, 1}).expand({-1, -1, hidden}));
}

// Python squeezes a trailing dimension of size 1 off labels given as [batch, 1] (in place on the
// caller's tensor; here on a copy of the handle).
at::Tensor squeeze_labels(const at::Tensor& t) { return t.defined() && t.dim() > 1 ? t.squeeze(-1) : t; }

}  // namespace

PoolerStartLogits::PoolerStartLogits(const PretrainedConfig& config) : nn::Module("PoolerStartLogits") {
  dense = register_module("dense", std::make_shared<nn::Linear>(config.hidden_size(), 1));
}

at::Tensor PoolerStartLogits::forward(const at::Tensor& hidden_states, const at::Tensor& p_mask) const {
  nn::ForwardScope hooks(*this);
  const at::Tensor x = dense->forward(hidden_states).squeeze(-1);
  return hooks.output(mask_logits(x, p_mask, dense->weight().scalar_type()));
}

PoolerEndLogits::PoolerEndLogits(const PretrainedConfig& config) : nn::Module("PoolerEndLogits") {
  const std::int64_t hidden = config.hidden_size();
  dense_0 = register_module("dense_0", std::make_shared<nn::Linear>(hidden * 2, hidden));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(hidden, config.get<double>("layer_norm_eps")));
  dense_1 = register_module("dense_1", std::make_shared<nn::Linear>(hidden, 1));
}

at::Tensor PoolerEndLogits::forward(const at::Tensor& hidden_states, const at::Tensor& start_states,
                                    const at::Tensor& start_positions, const at::Tensor& p_mask) const {
  nn::ForwardScope hooks(*this);
  if (!start_states.defined() && !start_positions.defined())
    throw ValueError("PoolerEndLogits needs start_states or start_positions");
  at::Tensor starts = start_states;
  if (start_positions.defined())
    starts = gather_positions(hidden_states, start_positions).expand({-1, hidden_states.size(-2), -1});
  at::Tensor x = at::tanh(dense_0->forward(at::cat({hidden_states, starts}, -1)));
  x = dense_1->forward(LayerNorm->forward(x)).squeeze(-1);
  return hooks.output(mask_logits(x, p_mask, dense_0->weight().scalar_type()));
}

PoolerAnswerClass::PoolerAnswerClass(const PretrainedConfig& config) : nn::Module("PoolerAnswerClass") {
  const std::int64_t hidden = config.hidden_size();
  dense_0 = register_module("dense_0", std::make_shared<nn::Linear>(hidden * 2, hidden));
  dense_1 = register_module("dense_1", std::make_shared<nn::Linear>(hidden, 1, /*bias=*/false));
}

at::Tensor PoolerAnswerClass::forward(const at::Tensor& hidden_states, const at::Tensor& start_states,
                                      const at::Tensor& start_positions, const at::Tensor& cls_index) const {
  nn::ForwardScope hooks(*this);
  if (!start_states.defined() && !start_positions.defined())
    throw ValueError("PoolerAnswerClass needs start_states or start_positions");
  const at::Tensor starts =
      start_positions.defined() ? gather_positions(hidden_states, start_positions).squeeze(-2) : start_states;
  const at::Tensor cls = cls_index.defined() ? gather_positions(hidden_states, cls_index).squeeze(-2)
                                             : hidden_states.select(1, -1);
  const at::Tensor x = at::tanh(dense_0->forward(at::cat({starts, cls}, -1)));
  return hooks.output(dense_1->forward(x).squeeze(-1));
}

SQuADHead::SQuADHead(const PretrainedConfig& config)
    : nn::Module("SQuADHead"),
      start_n_top(config.get<std::int64_t>("start_n_top")),
      end_n_top(config.get<std::int64_t>("end_n_top")) {
  start_logits = register_module("start_logits", std::make_shared<PoolerStartLogits>(config));
  end_logits = register_module("end_logits", std::make_shared<PoolerEndLogits>(config));
  answer_class = register_module("answer_class", std::make_shared<PoolerAnswerClass>(config));
}

ModelOutput SQuADHead::forward(const at::Tensor& hidden_states, const SquadHeadInputs& inputs) const {
  nn::ForwardScope hooks(*this);
  const at::Tensor start = start_logits->forward(hidden_states, inputs.p_mask);
  ModelOutput out;
  if (inputs.start_positions.defined() && inputs.end_positions.defined()) {
    const at::Tensor start_positions = squeeze_labels(inputs.start_positions);
    const at::Tensor end_positions = squeeze_labels(inputs.end_positions);
    // Training: the end logits are conditioned on the true start.
    const at::Tensor end = end_logits->forward(hidden_states, {}, start_positions, inputs.p_mask);
    at::Tensor loss = (detail::cross_entropy(start, start_positions) + detail::cross_entropy(end, end_positions)) / 2;
    if (inputs.cls_index.defined() && inputs.is_impossible.defined()) {
      const at::Tensor cls_logits = answer_class->forward(hidden_states, {}, start_positions, squeeze_labels(inputs.cls_index));
      // Transformers passes is_impossible unchanged and fails on the integer tensor its docstring
      // asks for; the BCE target only needs the logits' dtype.
      const at::Tensor target = squeeze_labels(inputs.is_impossible).to(cls_logits.scalar_type());
      loss = loss + at::binary_cross_entropy_with_logits(cls_logits, target) * 0.5;
    }
    out.set("loss", loss);
    return out;
  }
  // Inference: beam search over the start_n_top best starts and, per start, end_n_top best ends.
  const std::int64_t seq = hidden_states.size(1), hidden = hidden_states.size(2);
  const at::Tensor start_probs = at::softmax(start, -1);  // named log_probs in Python; they are not logs
  auto [start_top_probs, start_top_index] = at::topk(start_probs, start_n_top, -1);
  at::Tensor start_states = hidden_states.gather(-2, start_top_index.unsqueeze(-1).expand({-1, -1, hidden}));
  start_states = start_states.unsqueeze(1).expand({-1, seq, -1, -1});  // [batch, seq, start_n_top, hidden]
  const at::Tensor hidden_expanded = hidden_states.unsqueeze(2).expand_as(start_states);
  const at::Tensor p_mask = inputs.p_mask.defined() ? inputs.p_mask.unsqueeze(-1) : at::Tensor();
  const at::Tensor end = end_logits->forward(hidden_expanded, start_states, {}, p_mask);
  const at::Tensor end_probs = at::softmax(end, 1);  // [batch, seq, start_n_top]
  auto [end_top_probs, end_top_index] = at::topk(end_probs, end_n_top, 1);  // [batch, end_n_top, start_n_top]
  // The answer class sees the start states averaged under the start distribution.
  const at::Tensor expected_start = at::einsum("blh,bl->bh", {hidden_states, start_probs});
  const at::Tensor cls_logits = answer_class->forward(hidden_states, expected_start, {}, inputs.cls_index);
  out.set("start_top_log_probs", start_top_probs);
  out.set("start_top_index", start_top_index);
  out.set("end_top_log_probs", end_top_probs.reshape({-1, start_n_top * end_n_top}));
  out.set("end_top_index", end_top_index.reshape({-1, start_n_top * end_n_top}));
  out.set("cls_logits", cls_logits);
  return out;
}

}  // namespace hfcpp
