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

// For attn_implementation "sdpa": when the new tokens sit at consecutive positions right after the
// `past` cached ones (cache_position == arange(past, past + seq)), the fused kernel's causal rule
// (nn::AttentionOptions::is_causal over the first past + seq keys) replaces the materialised
// [seq, keys] mask, so memory does not grow with seq^2. Returns past + seq then, else -1.
std::int64_t consecutive_causal_keys(const at::Tensor& cache_position, std::int64_t past, std::int64_t seq);

// A 2-D attention_mask [batch, n] (0 = padding) as the fused kernel's bool keep mask
// [batch, 1, 1, keys]: cut to `keys`, or extended with kept keys when n < keys (those are hidden by
// causality alone, as in causal_mask_with_cache_position). Undefined when nothing is padding.
at::Tensor padding_keep_mask(const at::Tensor& attention_mask, std::int64_t keys);

// Resolves config's attn_implementation for a model class, stores the result in the config and
// returns it: "eager" or "sdpa". Unset: "sdpa" when the model supports it and hfcpp's fused
// attention kernel is built, else "eager". "sdpa" requested where it cannot run and
// "flash_attention_2" (CUDA only) are errors naming what is available.
std::string resolve_attn_implementation(PretrainedConfig& config, const std::string& model_class, bool supports_sdpa);

// Whether hfcpp was built with its fused CPU attention kernel (hfcpp/nn/attention.h).
bool fused_attention_available();

}  // namespace hfcpp
