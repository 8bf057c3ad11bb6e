// Head-pruning helpers (Transformers' pytorch_utils): which rows of a fused head projection stay,
// and shrinking Linear / Conv1D layers to them. Layers are shrunk in place: the module and its
// parameter tensors keep their identity (as `weight.data = ...` would), only shapes change.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "hfcpp/nn/layers.h"

namespace hfcpp {

// `heads` (indices in the original layer) minus those already pruned, and the int64 indices of the
// features that remain after also removing them from a projection of n_heads (the current count)
// heads of head_size features. Throws ValueError for a head outside the original layer.
std::pair<std::set<std::int64_t>, at::Tensor> find_pruneable_heads_and_indices(
    const std::vector<std::int64_t>& heads, std::int64_t n_heads, std::int64_t head_size,
    const std::set<std::int64_t>& already_pruned_heads);

// Keeps the entries `index` of a Linear along dim (0: output features and bias, 1: input features).
void prune_linear_layer(nn::Linear& layer, const at::Tensor& index, std::int64_t dim = 0);
// Keeps the entries `index` of a Conv1D along dim (1: output features and bias, 0: input features).
void prune_conv1d_layer(nn::Conv1D& layer, const at::Tensor& index, std::int64_t dim = 1);

}  // namespace hfcpp
