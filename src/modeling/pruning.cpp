// PreTrainedModel::prune_heads and the layer-shrinking helpers the models use for it.
#include "hfcpp/modeling/pruning.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>

#include "hfcpp/error.h"
#include "hfcpp/modeling/assign.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {
namespace {

// Replaces `tensor`'s data by its entries `index` along dim; a meta tensor (a skeleton being
// built for loading) only changes shape.
void keep_entries(const at::Tensor& tensor, const at::Tensor& index, std::int64_t dim) {
  c10::NoGradGuard no_grad;
  at::Tensor kept;
  if (tensor.is_meta()) {
    auto shape = tensor.sizes().vec();
    shape[static_cast<std::size_t>(dim)] = index.numel();
    kept = at::empty(shape, tensor.options());
  } else {
    kept = tensor.index_select(dim, index.to(tensor.device())).contiguous();
  }
  assign_in_place(tensor, kept);
}

}  // namespace

std::pair<std::set<std::int64_t>, at::Tensor> find_pruneable_heads_and_indices(
    const std::vector<std::int64_t>& heads, std::int64_t n_heads, std::int64_t head_size,
    const std::set<std::int64_t>& already_pruned_heads) {
  const std::int64_t original = n_heads + static_cast<std::int64_t>(already_pruned_heads.size());
  std::set<std::int64_t> to_prune;
  for (std::int64_t head : heads) {
    if (head < 0 || head >= original)
      throw ValueError("cannot prune head " + std::to_string(head) + ": the layer has heads 0.." +
                       std::to_string(original - 1));
    if (!already_pruned_heads.count(head)) to_prune.insert(head);
  }
  at::Tensor keep = at::ones({n_heads, head_size}, at::kBool);
  for (std::int64_t head : to_prune) {
    // Earlier prunings shifted the heads after them down.
    const auto before = std::count_if(already_pruned_heads.begin(), already_pruned_heads.end(),
                                      [&](std::int64_t h) { return h < head; });
    keep[head - before].fill_(false);
  }
  return {to_prune, at::arange(n_heads * head_size, at::kLong).masked_select(keep.view(-1))};
}

void prune_linear_layer(nn::Linear& layer, const at::Tensor& index, std::int64_t dim) {
  keep_entries(layer.weight(), index, dim);
  if (const at::Tensor* bias = layer.bias(); bias != nullptr && dim == 0) keep_entries(*bias, index, 0);
}

void prune_conv1d_layer(nn::Conv1D& layer, const at::Tensor& index, std::int64_t dim) {
  keep_entries(layer.weight(), index, dim);
  if (const at::Tensor* bias = layer.bias(); bias != nullptr && dim == 1) keep_entries(*bias, index, 0);
}

void PreTrainedModel::prune_heads(const HeadsToPrune& heads_to_prune) {
  // config.pruned_heads holds the union of every pruning, sorted (Python stores list(set), whose
  // order is not always sorted for heads >= 8).
  HeadsToPrune recorded = config().pruned_heads();
  for (const auto& [layer, heads] : heads_to_prune) {
    if (heads.empty()) continue;  // Python records an empty list here; it changes nothing
    std::set<std::int64_t> merged(heads.begin(), heads.end());
    const auto& before = recorded[layer];
    merged.insert(before.begin(), before.end());
    recorded[layer].assign(merged.begin(), merged.end());
  }
  base_model().prune_base_heads(heads_to_prune);
  config().set_pruned_heads(recorded);
}

void PreTrainedModel::prune_base_heads(const HeadsToPrune&) {
  throw UnsupportedError(class_info().name + " does not support pruning attention heads");
}

}  // namespace hfcpp
