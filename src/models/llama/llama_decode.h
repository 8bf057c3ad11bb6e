// Internal: Llama's decoding fast path (see LlamaModel::use_decode_kernels).
#pragma once

#include <ATen/core/Tensor.h>

#include "hfcpp/nn/layers.h"

namespace hfcpp::detail {

// Whether the decode kernels can compute with `x` here: no gradients recorded, a CPU tensor in
// float32 or bfloat16.
bool decode_kernels_apply(const at::Tensor& x);

// linear(x) for x [..., in] with few rows, through the decode kernels when they apply (and the
// module has no hooks, which only its own forward runs).
at::Tensor project_rows(const nn::Linear& linear, const at::Tensor& x);

}  // namespace hfcpp::detail
