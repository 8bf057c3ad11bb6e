// The loss functions Transformers' heads use (internal).
#pragma once

#include <ATen/ATen.h>

#include "hfcpp/config/configuration_utils.h"

namespace hfcpp::detail {

// CrossEntropyLoss(ignore_index=-100) over the last dimension of `logits`.
inline at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index = -100) {
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), labels.reshape({-1}), {},
                                at::Reduction::Mean, ignore_index, 0.0);
}

// Sequence classification: regression, single-label or multi-label by config.problem_type, which
// is inferred (and stored in the config, as Transformers does) when unset.
inline at::Tensor sequence_classification_loss(PretrainedConfig& config, const at::Tensor& logits,
                                               const at::Tensor& labels) {
  const std::int64_t num_labels = config.num_labels();
  if (!config.problem_type()) {
    if (num_labels == 1) config.set("problem_type", "regression");
    else if (labels.scalar_type() == at::kLong || labels.scalar_type() == at::kInt)
      config.set("problem_type", "single_label_classification");
    else config.set("problem_type", "multi_label_classification");
  }
  const std::string type = *config.problem_type();
  if (type == "regression") {
    if (num_labels == 1) return at::mse_loss(logits.squeeze(), labels.squeeze().to(logits.scalar_type()));
    return at::mse_loss(logits, labels.to(logits.scalar_type()));
  }
  if (type == "single_label_classification") return cross_entropy(logits.view({-1, num_labels}), labels.view({-1}));
  return at::binary_cross_entropy_with_logits(logits, labels.to(logits.scalar_type()));
}

}  // namespace hfcpp::detail
