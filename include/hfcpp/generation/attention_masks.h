// What decoder models share around attention: the additive causal mask built from cache
// positions (Transformers' _prepare_4d_causal_attention_mask_with_cache_position), and the choice
// of attention implementation (Transformers' _autoset_attn_implementation).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>

namespace hfcpp {

class PretrainedConfig;

// The lowest finite value of a floating dtype (torch.finfo(dtype).min): what masks add.
double finfo_min(c10::ScalarType dtype);

// A [batch, 1, sequence_length, target_length] additive mask in `dtype`: 0 where query i (at
// position cache_position[i]) may attend key j, finfo.min elsewhere. Key j is hidden when it lies
// in the query's future (j > cache_position[i]), when attention_mask ([batch, mask_length] with
// 1 = token, 0 = padding; mask_length <= target_length) marks it as padding, or, with a sliding
// window w, when j <= cache_position[i] - w. A 4-D attention_mask is returned unchanged.
at::Tensor causal_mask_with_cache_position(const at::Tensor& attention_mask, std::int64_t sequence_length,
                                           std::int64_t target_length, c10::ScalarType dtype,
                                           const at::Tensor& cache_position, std::int64_t batch_size,
                                           std::optional<std::int64_t> sliding_window = std::nullopt);

// Resolves config's attn_implementation for a model class, stores the result in the config and
// returns it: "eager" or "sdpa". Unset: "sdpa" when the model supports it and hfcpp's fused
// attention kernel is built, else "eager". "sdpa" requested where it cannot run and
// "flash_attention_2" (CUDA only) are errors naming what is available.
std::string resolve_attn_implementation(PretrainedConfig& config, const std::string& model_class, bool supports_sdpa);

// Whether hfcpp was built with its fused CPU attention kernel (hfcpp/nn/attention.h).
bool fused_attention_available();

}  // namespace hfcpp
