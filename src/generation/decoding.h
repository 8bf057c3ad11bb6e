// Internal: drives a causal LM one step at a time for generate() and beam search.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "hfcpp/config/generation_config.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/generation/generate.h"
#include "hfcpp/generation/logits_process.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp::detail {

// Feeds the prompt, then one token per step, through the model with a KV cache. The attention
// mask, the positions and the cache positions live in buffers sized for max_length tokens, so a
// step allocates nothing of its own: the mask and cache positions are views, the positions are
// incremented in place (Transformers' cumsum(mask) - 1 at each new token). A model that returns
// no cache gets the whole sequence every step instead.
class Decoder {
 public:
  // attention_mask [batch, prompt] (1 = token); cache: "static" or "dynamic".
  Decoder(PreTrainedModel& model, const at::Tensor& attention_mask, std::int64_t max_length, bool static_cache);
  // Logits of the last prompt position, [batch, vocab] float32.
  at::Tensor prefill(const at::Tensor& input_ids);
  // Logits after appending the last column of `sequences` ([batch, length], prompt included).
  at::Tensor step(const at::Tensor& sequences);
  // Beam search: the cache follows the surviving beams.
  void reorder(const at::Tensor& beam_idx);
  const std::shared_ptr<Cache>& cache() const { return cache_; }

 private:
  at::Tensor logits_of(const ModelOutput& out) const;
  PreTrainedModel& model_;
  std::shared_ptr<Cache> cache_;
  at::Tensor mask_;            // [batch, max_length] int64: the prompt's mask, then ones
  at::Tensor next_position_;   // [batch, 1]: position id of the next token
  at::Tensor cache_positions_; // arange(max_length)
  std::int64_t length_ = 0;    // tokens the model has seen
  bool uses_cache_ = true;
};

// Beam search (Transformers 4.46's BeamSearchScorer semantics) over `input_ids` already expanded
// to batch * num_beams rows.
GenerateOutput beam_search(PreTrainedModel& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const GenerationConfig& config, const LogitsProcessorList& processors,
                           const std::vector<std::int64_t>& eos_token_ids, const GenerateOptions& options,
                           const c10::optional<at::Generator>& generator);

}  // namespace hfcpp::detail
