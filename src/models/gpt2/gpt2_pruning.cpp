// Head pruning for GPT-2 (GPT2Attention.prune_heads, GPT2Model._prune_heads).
#include <ATen/ATen.h>

#include "hfcpp/error.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/modeling/pruning.h"

namespace hfcpp {

void GPT2Attention::prune_heads(const std::vector<std::int64_t>& heads) {
  if (heads.empty()) return;
  auto [removed, index] = find_pruneable_heads_and_indices(heads, num_heads, head_dim, pruned_heads);
  if (removed.empty()) return;
  // c_attn's output is [q | k | v], each num_heads * head_dim wide: keep the same heads in all three.
  const std::int64_t split = num_heads * head_dim;
  const at::Tensor qkv_index = at::cat({index, index + split, index + 2 * split});
  prune_conv1d_layer(*c_attn, qkv_index, /*dim=*/1);
  prune_conv1d_layer(*c_proj, index, /*dim=*/0);
  num_heads -= static_cast<std::int64_t>(removed.size());
  pruned_heads.insert(removed.begin(), removed.end());
}

void GPT2Model::prune_base_heads(const HeadsToPrune& heads_to_prune) {
  for (const auto& [layer, heads] : heads_to_prune) {
    if (layer < 0 || layer >= static_cast<std::int64_t>(h->size()))
      throw ValueError("cannot prune heads of layer " + std::to_string(layer) + ": " + class_info().name + " has " +
                       std::to_string(h->size()) + " layers");
    (*h)[static_cast<std::size_t>(layer)].attn->prune_heads(heads);
  }
}

}  // namespace hfcpp
