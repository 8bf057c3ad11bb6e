#include "hfcpp/generation/attention_masks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/error.h"

namespace hfcpp {

double finfo_min(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return std::numeric_limits<float>::lowest();
    case c10::ScalarType::Double: return std::numeric_limits<double>::lowest();
    case c10::ScalarType::Half: return -65504.0;
    case c10::ScalarType::BFloat16: return -3.3895313892515355e38;
    default: throw ValueError(std::string("attention masks need a floating dtype, got ") + c10::toString(dtype));
  }
}

at::Tensor causal_mask_with_cache_position(const at::Tensor& attention_mask, std::int64_t sequence_length,
                                           std::int64_t target_length, c10::ScalarType dtype,
                                           const at::Tensor& cache_position, std::int64_t batch_size,
                                           std::optional<std::int64_t> sliding_window) {
  if (attention_mask.defined() && attention_mask.dim() == 4) return attention_mask;
  if (attention_mask.defined() && attention_mask.dim() != 2)
    throw ValueError("attention_mask must be [batch, keys] or a 4-D additive mask, got shape " +
                     c10::str(attention_mask.sizes()));
  if (attention_mask.defined() && attention_mask.size(-1) > target_length)
    throw ValueError("attention_mask covers " + std::to_string(attention_mask.size(-1)) + " keys but the cache holds " +
                     std::to_string(target_length));
  const double min_value = finfo_min(dtype);
  const auto device = cache_position.device();
  at::Tensor mask = at::full({sequence_length, target_length}, min_value, at::TensorOptions().dtype(dtype).device(device));
  // Llama zeroes the lower triangle first (a no-op given the product below); Mistral's windowed
  // mask must not, since the window hides keys below the diagonal too.
  if (sequence_length != 1 && !sliding_window) mask = at::triu(mask, 1);
  const at::Tensor keys = at::arange(target_length, at::TensorOptions().dtype(at::kLong).device(device));
  const at::Tensor positions = cache_position.reshape({-1, 1});
  at::Tensor hidden = keys.gt(positions);
  if (sliding_window) hidden.bitwise_or_(keys.le(positions - *sliding_window));
  mask.mul_(hidden);
  mask = mask.unsqueeze(0).unsqueeze(0).expand({batch_size, 1, -1, -1});
  if (!attention_mask.defined()) return mask;
  // Padding: keys the causal part allows (0) but the attention mask marks 0 become min too.
  mask = mask.clone();
  const std::int64_t mask_length = attention_mask.size(-1);
  at::Tensor head = mask.narrow(-1, 0, mask_length);
  const at::Tensor padding = head.add(attention_mask.to(device).unsqueeze(1).unsqueeze(1)).eq(0);
  head.masked_fill_(padding, min_value);
  return mask;
}

std::int64_t consecutive_causal_keys(const at::Tensor& cache_position, std::int64_t past, std::int64_t seq) {
  if (!cache_position.defined() || cache_position.numel() != seq) return -1;
  const at::Tensor expected = at::arange(past, past + seq, at::TensorOptions().dtype(at::kLong));
  return cache_position.to(at::kCPU, at::kLong).reshape({-1}).equal(expected) ? past + seq : -1;
}

at::Tensor padding_keep_mask(const at::Tensor& attention_mask, std::int64_t keys) {
  if (!attention_mask.defined()) return {};
  if (attention_mask.dim() != 2)
    throw ValueError("padding_keep_mask needs a 2-D attention_mask [batch, keys], got shape " +
                     c10::str(attention_mask.sizes()));
  const std::int64_t batch = attention_mask.size(0), length = std::min(attention_mask.size(1), keys);
  const at::Tensor keep = attention_mask.narrow(1, 0, length).ne(0);
  if (keep.all().item<bool>()) return {};
  at::Tensor mask = at::ones({batch, keys}, keep.options());
  mask.narrow(1, 0, length).copy_(keep);
  return mask.view({batch, 1, 1, keys});
}

// The fused kernel (src/nn/attention*.cpp) is part of every build; it picks its instruction set
// at run time and has a portable version, so "sdpa" can always run on the CPU.
bool fused_attention_available() { return true; }

std::string resolve_attn_implementation(PretrainedConfig& config, const std::string& model_class, bool supports_sdpa) {
  std::string requested = config.attn_implementation();
  if (requested.empty()) {
    requested = supports_sdpa && fused_attention_available() ? "sdpa" : "eager";
  } else if (requested == "sdpa") {
    if (!supports_sdpa)
      throw ValueError(model_class + " does not support attn_implementation \"sdpa\"; use \"eager\"");
    if (!fused_attention_available())
      throw UnsupportedError("attn_implementation \"sdpa\" needs hfcpp's fused attention kernel, which this build "
                             "lacks; use \"eager\"");
  } else if (requested == "flash_attention_2") {
    throw UnsupportedError("attn_implementation \"flash_attention_2\" needs CUDA and the flash-attn package; on the "
                           "CPU use \"sdpa\" or \"eager\"");
  } else if (requested != "eager") {
    throw ValueError("unknown attn_implementation \"" + requested + "\": expected \"eager\", \"sdpa\" or "
                     "\"flash_attention_2\"");
  }
  config.set_attn_implementation(requested);
  return requested;
}

}  // namespace hfcpp
