// Text generation with causal language models (Transformers' GenerationMixin.generate): greedy
// decoding, sampling (temperature, top-k, top-p, min-p), repetition penalty, minimum lengths,
// one or several EOS tokens, left-padded batches, beam search, a seed for reproducible sampling
// and a per-token callback.
//
//   auto model = from_pretrained<LlamaForCausalLM>(path);
//   auto out = generate(*model, input_ids, attention_mask, {.generation_kwargs = {{"max_new_tokens", 32}}});
//   out.sequences  // [batch, prompt + new tokens]
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "hfcpp/config/generation_config.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {

struct GenerateOptions {
  // generate(**kwargs) in Transformers: fields of a GenerationConfig that override the model's
  // generation_config for this call, e.g. {"max_new_tokens": 20, "do_sample": true, "top_p": 0.9}.
  // "cache_implementation": "static" preallocates the KV cache for max_length tokens.
  json generation_kwargs = json::object();
  // Used instead of the model's generation_config when set (kwargs still apply on top).
  std::optional<GenerationConfig> generation_config;
  // Sampling draws from a generator seeded with this, so equal seeds give equal samples whatever
  // else uses torch's global generator. nullopt: torch's default generator.
  std::optional<std::uint64_t> seed;
  // Called after every decoding step with the new tokens [batch] (int64, CPU); rows that already
  // finished get the pad token. Not available with beam search (as in Transformers).
  std::function<void(const at::Tensor& next_tokens)> streamer;
  bool output_logits = false;  // keep the raw logits of every step
  bool output_scores = false;  // keep the processed scores of every step
};

struct GenerateOutput {
  // Prompt and generated tokens, [batch * num_return_sequences, length]. Rows that finished early
  // are padded with pad_token_id.
  at::Tensor sequences;
  std::vector<at::Tensor> logits;  // per step [batch * beams, vocab], float32 (output_logits)
  std::vector<at::Tensor> scores;  // per step, after the logits processors (output_scores)
  at::Tensor sequences_scores;     // beam search: the length-penalised score of each returned sequence
  std::shared_ptr<Cache> past_key_values;
};

// Generates continuations of `input_ids` [batch, prompt] (left-padded when the prompts differ in
// length, with `attention_mask` marking the tokens; inferred from pad_token_id when undefined, as
// Transformers does). Throws UnsupportedError for models that cannot generate and ValueError for
// invalid settings (naming the setting and the value).
GenerateOutput generate(PreTrainedModel& model, const at::Tensor& input_ids, const at::Tensor& attention_mask = {},
                        const GenerateOptions& options = {});

// The generation config generate() would use: the model's (or options.generation_config) with
// options.generation_kwargs applied, max_length / min_length set from max_new_tokens /
// min_new_tokens, and pad_token_id defaulting to the first EOS token (with Transformers' warning).
GenerationConfig resolve_generation_config(const PreTrainedModel& model, const GenerateOptions& options,
                                           std::int64_t prompt_length);

// Position ids for a batch of left-padded prompts: cumsum(mask) - 1, with padding positions at 1
// (what generate passes to the model).
at::Tensor position_ids_from_attention_mask(const at::Tensor& attention_mask);

}  // namespace hfcpp
