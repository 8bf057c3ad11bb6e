// The SQuAD 2.0 heads of Transformers' modeling_utils (XLNet's and XLM's question answering):
// start logits, end logits conditioned on a start token, an answerability classifier, and
// SQuADHead combining them with a beam search over start and end positions. Parameter names
// equal Python's (start_logits.dense, end_logits.dense_0 / LayerNorm / dense_1,
// answer_class.dense_0 / dense_1).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/modeling/modeling_outputs.h"
#include "hfcpp/nn/layers.h"

namespace hfcpp {

// Logits of each position being the answer's start: [batch, seq].
class PoolerStartLogits : public nn::Module {
 public:
  explicit PoolerStartLogits(const PretrainedConfig& config);  // hidden_size
  // p_mask [batch, seq]: 1.0 marks positions that cannot start an answer (their logit becomes
  // -1e30, or -65500 when the weights are float16).
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& p_mask = {}) const;
  std::shared_ptr<nn::Linear> dense;
};

// Logits of each position being the answer's end, given the start: from the hidden states of the
// start tokens (start_states, shaped like hidden_states) or their positions (start_positions
// [batch], which win when both are given).
class PoolerEndLogits : public nn::Module {
 public:
  explicit PoolerEndLogits(const PretrainedConfig& config);  // hidden_size, layer_norm_eps
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& start_states = {},
                     const at::Tensor& start_positions = {}, const at::Tensor& p_mask = {}) const;
  std::shared_ptr<nn::Linear> dense_0, dense_1;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

// The logit of "no answer" from the start token's and the CLS token's hidden states: [batch].
// start_states [batch, hidden] or start_positions [batch]; cls_index [batch], or the last token.
class PoolerAnswerClass : public nn::Module {
 public:
  explicit PoolerAnswerClass(const PretrainedConfig& config);  // hidden_size
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& start_states = {},
                     const at::Tensor& start_positions = {}, const at::Tensor& cls_index = {}) const;
  std::shared_ptr<nn::Linear> dense_0, dense_1;  // dense_1 has no bias
};

struct SquadHeadInputs {
  at::Tensor start_positions;  // [batch] (or [batch, 1]) int64
  at::Tensor end_positions;
  at::Tensor cls_index;        // [batch]; undefined: the last token
  // [batch]: 1 when the question has no answer. Integer or floating: Transformers' docstring asks
  // for a LongTensor but its BCEWithLogitsLoss then fails ("result type Float can't be cast to
  // the desired output type Long"); hfcpp converts it to the logits' dtype.
  at::Tensor is_impossible;
  at::Tensor p_mask;           // [batch, seq], 1.0 = not a possible answer token
};

// With start_positions and end_positions: the loss (mean of the start and end cross-entropies,
// plus half the answerability BCE when cls_index and is_impossible are given) under "loss".
// Without: a beam search over start_n_top starts and end_n_top ends per start, giving
// start_top_log_probs / start_top_index [batch, start_n_top], end_top_log_probs / end_top_index
// [batch, start_n_top * end_n_top] and cls_logits [batch].
//
// Note: as in Transformers (4.46 and before), start_top_log_probs and end_top_log_probs are
// softmax probabilities, not log-probabilities. hfcpp keeps the values (code written against
// Python compares them) and the names (they are Transformers' SquadHeadOutput fields).
class SQuADHead : public nn::Module {
 public:
  explicit SQuADHead(const PretrainedConfig& config);  // + start_n_top, end_n_top
  ModelOutput forward(const at::Tensor& hidden_states, const SquadHeadInputs& inputs = {}) const;
  std::int64_t start_n_top, end_n_top;
  std::shared_ptr<PoolerStartLogits> start_logits;
  std::shared_ptr<PoolerEndLogits> end_logits;
  std::shared_ptr<PoolerAnswerClass> answer_class;
};

}  // namespace hfcpp
