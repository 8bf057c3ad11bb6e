// Rotary position embeddings (RoPE) with the frequency schedules of Transformers 4.46's
// modeling_rope_utils: "default", "linear", "dynamic" (NTK), "yarn", "longrope" and "llama3".
// The schedule is chosen by config.rope_scaling (its "rope_type", or the legacy "type").
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/nn/module.h"

namespace hfcpp {

struct RopeParameters {
  at::Tensor inv_freq;             // [rotary_dim / 2] float32
  double attention_scaling = 1.0;  // multiplies cos and sin (yarn and longrope set it)
};

// "default" when config.rope_scaling is null, else its "rope_type" (or legacy "type"). Throws
// ValueError for a type that is not one of the six.
std::string rope_type(const PretrainedConfig& config);

// Checks that rope_scaling has the keys its type requires (Transformers' rope_config_validation);
// throws KeyError naming the missing keys, ValueError for bad values.
void validate_rope_scaling(const PretrainedConfig& config);

// The inverse frequencies and attention scaling for `config`. `seq_len` is the current sequence
// length for the "dynamic" type (ignored by the others); without it the dynamic type uses
// max_position_embeddings.
RopeParameters compute_rope_parameters(const PretrainedConfig& config, std::optional<std::int64_t> seq_len = std::nullopt);

// LlamaRotaryEmbedding: inv_freq is a non-persistent buffer (it counts in the memory footprint but
// not in checkpoints). forward gives cos and sin [batch, seq, rotary_dim] in `dtype`, computed in
// float32. The dynamic type recomputes inv_freq when positions outgrow the cached length and
// restores the original one when they fall back below max_position_embeddings.
class RotaryEmbedding : public nn::Module {
 public:
  explicit RotaryEmbedding(const PretrainedConfig& config);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& position_ids, c10::ScalarType dtype);
  const std::string& type() const { return rope_type_; }
  double attention_scaling() const { return attention_scaling_; }
  const at::Tensor& inv_freq() const { return inv_freq_; }

 private:
  void update_dynamic_frequencies(const at::Tensor& position_ids);
  const PretrainedConfig* config_;  // for the dynamic type; the model owns the config
  std::string rope_type_;
  double attention_scaling_ = 1.0;
  std::int64_t max_seq_len_cached_ = 0;
  std::int64_t original_max_seq_len_ = 0;
  at::Tensor original_inv_freq_;
  at::Tensor inv_freq_;  // the registered buffer (updated in place, so this handle stays valid)
};

// x * cos + rotate_half(x) * sin for queries and keys [batch, heads, seq, head_dim] with cos/sin
// [batch, seq, head_dim] (broadcast over heads).
std::pair<at::Tensor, at::Tensor> apply_rotary_pos_emb(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cos,
                                                       const at::Tensor& sin);
// cat(-x2, x1) of the two halves of the last dimension.
at::Tensor rotate_half(const at::Tensor& x);

}  // namespace hfcpp
