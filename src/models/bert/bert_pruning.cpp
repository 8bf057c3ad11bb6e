// Head pruning for BERT (BertAttention.prune_heads, BertModel._prune_heads).
#include <ATen/ATen.h>

#include "hfcpp/error.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/modeling/pruning.h"

namespace hfcpp {

void BertAttention::prune_heads(const std::vector<std::int64_t>& heads) {
  if (heads.empty()) return;
  BertSelfAttention& self = *self_attention;
  auto [removed, index] =
      find_pruneable_heads_and_indices(heads, self.num_attention_heads, self.attention_head_size, pruned_heads);
  if (removed.empty()) return;
  prune_linear_layer(*self.query, index);
  prune_linear_layer(*self.key, index);
  prune_linear_layer(*self.value, index);
  prune_linear_layer(*output->dense, index, /*dim=*/1);
  self.num_attention_heads -= static_cast<std::int64_t>(removed.size());
  self.all_head_size = self.attention_head_size * self.num_attention_heads;
  pruned_heads.insert(removed.begin(), removed.end());
}

void BertModel::prune_base_heads(const HeadsToPrune& heads_to_prune) {
  for (const auto& [layer, heads] : heads_to_prune) {
    if (layer < 0 || layer >= static_cast<std::int64_t>(encoder->layer->size()))
      throw ValueError("cannot prune heads of layer " + std::to_string(layer) + ": " + class_info().name + " has " +
                       std::to_string(encoder->layer->size()) + " layers");
    (*encoder->layer)[static_cast<std::size_t>(layer)].attention->prune_heads(heads);
  }
}

}  // namespace hfcpp
