// SequenceSummary (Transformers' modeling_utils.SequenceSummary): reduces hidden states
// [..., seq, hidden] to one vector per sequence, then an optional projection, activation and
// dropouts, all configured by the summary_* fields of the model config. GPT2DoubleHeadsModel's
// multiple-choice head is one.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/nn/layers.h"

namespace hfcpp {

class SequenceSummary : public nn::Module {
 public:
  // summary_type: "last" (default), "first", "mean" or "cls_index" ("attn" is not implemented, as
  // in Transformers). summary_use_proj adds `summary` = Linear(hidden, num_labels when
  // summary_proj_to_labels and num_labels > 0, else hidden). summary_activation names an
  // activation; summary_first_dropout / summary_last_dropout > 0 add dropouts.
  explicit SequenceSummary(const PretrainedConfig& config);
  // hidden_states [batch, ..., seq, hidden]; cls_index [batch, ...] (int64) picks the token for
  // "cls_index" (the last token when undefined).
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& cls_index = {}) const;

  std::string summary_type;
  std::shared_ptr<nn::Linear> summary;  // null: identity
  nn::Activation activation = nullptr;  // null: identity
  std::shared_ptr<nn::Dropout> first_dropout, last_dropout;  // null: identity
};

// Decoder sequence classification (GPT2/LlamaForSequenceClassification in Transformers 4.46):
// per row of logits [batch, seq, labels], the position before the first pad token of input_ids,
// or the last position when the row has no pad token, when there is no pad_token_id (batch 1
// only) or no input_ids (a warning). Returns [batch, labels].
at::Tensor pool_before_first_pad(const at::Tensor& logits, const at::Tensor& input_ids,
                                 std::optional<std::int64_t> pad_token_id, const std::string& model_class);

}  // namespace hfcpp
