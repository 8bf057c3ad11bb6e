// generate(): configuration as Transformers resolves it, then greedy / sampling decoding (this
// file) or beam search (beam_search.cpp) over a Decoder.
#include "hfcpp/generation/generate.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "decoding.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/logits_process.h"
#include "hfcpp/logging.h"
#include "hfcpp/cpu_memory.h"
#include "hfcpp/runtime.h"

namespace hfcpp {

// --- Decoder ---

namespace detail {

Decoder::Decoder(PreTrainedModel& model, const at::Tensor& attention_mask, std::int64_t max_length, bool static_cache)
    : model_(model) {
  const std::int64_t batch = attention_mask.size(0), prompt = attention_mask.size(1);
  const auto device = model.device();
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  mask_ = at::ones({batch, max_length}, long_options);
  mask_.narrow(1, 0, prompt).copy_(attention_mask);
  next_position_ = attention_mask.to(long_options).sum(-1, /*keepdim=*/true);
  cache_positions_ = at::arange(max_length, long_options);
  if (static_cache) {
    cache_ = std::make_shared<StaticCache>(cache_shape_of(model.config()), batch, max_length, model.dtype(), device);
  } else {
    cache_ = std::make_shared<DynamicCache>();
  }
}

at::Tensor Decoder::logits_of(const ModelOutput& out) const { return out.logits().select(1, -1).to(at::kFloat); }

at::Tensor Decoder::prefill(const at::Tensor& input_ids) {
  const std::int64_t prompt = input_ids.size(1);
  ModelInputs inputs;
  inputs.input_ids = input_ids;
  inputs.attention_mask = mask_.narrow(1, 0, prompt);
  inputs.position_ids = position_ids_from_attention_mask(inputs.attention_mask);
  inputs.cache_position = cache_positions_.narrow(0, 0, prompt);
  inputs.past_key_values = cache_;
  inputs.use_cache = true;
  inputs.num_logits_to_keep = 1;
  const ModelOutput out = model_.forward(inputs);
  uses_cache_ = out.past_key_values != nullptr;
  length_ = prompt;
  return logits_of(out);
}

at::Tensor Decoder::step(const at::Tensor& sequences) {
  ModelInputs inputs;
  inputs.num_logits_to_keep = 1;
  if (uses_cache_) {
    inputs.input_ids = sequences.narrow(1, sequences.size(1) - 1, 1);
    inputs.attention_mask = mask_.narrow(1, 0, length_ + 1);
    inputs.position_ids = next_position_;
    inputs.cache_position = cache_positions_.narrow(0, length_, 1);
    inputs.past_key_values = cache_;
    inputs.use_cache = true;
  } else {  // no cache: the whole sequence again
    inputs.input_ids = sequences;
    inputs.attention_mask = mask_.narrow(1, 0, length_ + 1);
    inputs.position_ids = position_ids_from_attention_mask(inputs.attention_mask);
    inputs.use_cache = false;
  }
  const ModelOutput out = model_.forward(inputs);
  next_position_.add_(1);
  ++length_;
  return logits_of(out);
}

void Decoder::reorder(const at::Tensor& beam_idx) {
  if (uses_cache_) cache_->reorder_cache(beam_idx);
}

}  // namespace detail

// --- configuration ---

at::Tensor position_ids_from_attention_mask(const at::Tensor& attention_mask) {
  at::Tensor positions = attention_mask.to(at::kLong).cumsum(-1).sub(1);
  positions.masked_fill_(attention_mask.eq(0), 1);
  return positions;
}

GenerationConfig resolve_generation_config(const PreTrainedModel& model, const GenerateOptions& options,
                                           std::int64_t prompt_length) {
  GenerationConfig config = options.generation_config ? *options.generation_config
                            : model.generation_config ? *model.generation_config
                                                      : GenerationConfig::from_model_config(model.config());
  config.update(options.generation_kwargs);
  const bool explicit_max_length = options.generation_kwargs.contains("max_length");
  if (auto max_new = config.max_new_tokens()) {
    if (explicit_max_length)
      logging::warning("Both max_new_tokens (=" + std::to_string(*max_new) + ") and max_length (=" +
                       std::to_string(config.max_length()) + ") are set; max_new_tokens takes precedence.");
    config.set("max_length", prompt_length + *max_new);
  } else if (!explicit_max_length && config.max_length() == GenerationConfig().max_length()) {
    // The default generates 20 new tokens, within the model's positions.
    std::int64_t max_length = config.max_length() + prompt_length;
    const auto& model_config = model.config();
    if (model_config.has("max_position_embeddings") && !model_config.at("max_position_embeddings").is_null())
      max_length = std::min(max_length, model_config.get<std::int64_t>("max_position_embeddings"));
    config.set("max_length", max_length);
  }
  if (auto min_new = config.min_new_tokens()) config.set("min_length", prompt_length + *min_new);
  const auto eos = config.eos_token_ids();
  if (!config.pad_token_id() && !eos.empty()) {
    logging::warning("Setting `pad_token_id` to `eos_token_id`:" + std::to_string(eos[0]) + " for open-end generation.");
    config.set("pad_token_id", eos[0]);
  }
  return config;
}

namespace {

void validate(const PreTrainedModel& model, const at::Tensor& input_ids, const GenerationConfig& config,
              const GenerateOptions& options) {
  if (!model.can_generate())
    throw UnsupportedError(model.class_info().name + " cannot generate: use a model with a language modelling head "
                           "(e.g. a *ForCausalLM class)");
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.size(1) == 0 || input_ids.scalar_type() != at::kLong)
    throw ValueError("generate needs input_ids as a non-empty [batch, prompt] int64 tensor, got " +
                     (input_ids.defined() ? c10::str(input_ids.sizes(), " ", input_ids.scalar_type()) : "none"));
  const std::int64_t beams = config.num_beams();
  const std::int64_t returned = config.num_return_sequences();
  if (beams < 1) throw ValueError("num_beams must be >= 1, got " + std::to_string(beams));
  if (config.get_or<std::int64_t>("num_beam_groups", 1) != 1)
    throw UnsupportedError("group beam search (num_beam_groups > 1) is not supported by hfcpp");
  if (beams == 1 && !config.do_sample() && returned != 1)
    throw ValueError("greedy decoding cannot return " + std::to_string(returned) +
                     " sequences per prompt (num_return_sequences); use sampling or beam search");
  if (beams > 1 && returned > beams)
    throw ValueError("num_return_sequences (" + std::to_string(returned) + ") cannot exceed num_beams (" +
                     std::to_string(beams) + ")");
  if (beams > 1 && options.streamer) throw ValueError("a streamer cannot be used with beam search");
  const json early = config.early_stopping();
  if (!(early.is_boolean() || (early.is_string() && early.get<std::string>() == "never")))
    throw ValueError("early_stopping must be true, false or \"never\", got " + early.dump());
  if (auto cache = config.cache_implementation(); cache && *cache != "static" && *cache != "dynamic")
    throw ValueError("cache_implementation \"" + *cache + "\" is not supported: expected \"static\" or \"dynamic\"");
}

at::Tensor default_attention_mask(const at::Tensor& input_ids, const GenerationConfig& config) {
  // Inferred from the pad token only when it occurs and differs from every EOS token.
  const auto pad = config.pad_token_id();
  const auto eos = config.eos_token_ids();
  const bool pad_is_eos = pad && std::find(eos.begin(), eos.end(), *pad) != eos.end();
  if (pad && !pad_is_eos && input_ids.eq(*pad).any().item<bool>()) return input_ids.ne(*pad).to(at::kLong);
  return at::ones_like(input_ids);
}

// Greedy decoding or multinomial sampling, one token per row per step.
GenerateOutput sample(PreTrainedModel& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                      const GenerationConfig& config, const LogitsProcessorList& processors,
                      const std::vector<std::int64_t>& eos, const GenerateOptions& options,
                      const c10::optional<at::Generator>& generator) {
  const std::int64_t batch = input_ids.size(0), prompt = input_ids.size(1);
  const std::int64_t max_length = std::max(config.max_length(), prompt + 1);
  const bool static_cache = config.cache_implementation().value_or("dynamic") == "static";
  detail::Decoder decoder(model, attention_mask, max_length, static_cache);
  const std::int64_t pad = config.pad_token_id().value_or(0);
  const at::Tensor eos_tensor = at::tensor(eos, at::kLong).to(input_ids.device());

  at::Tensor sequences = at::full({batch, max_length}, pad, input_ids.options());
  sequences.narrow(1, 0, prompt).copy_(input_ids);
  at::Tensor unfinished = at::ones({batch}, input_ids.options());
  GenerateOutput result;
  std::int64_t length = prompt;
  at::Tensor logits = decoder.prefill(input_ids);
  while (true) {
    if (options.output_logits) result.logits.push_back(logits.clone());
    const at::Tensor so_far = sequences.narrow(1, 0, length);
    const at::Tensor scores = processors.empty() ? logits : processors(so_far, logits);
    if (options.output_scores) result.scores.push_back(scores);
    at::Tensor next = config.do_sample()
                          ? at::multinomial(at::softmax(scores, -1), 1, /*replacement=*/false, generator).squeeze(1)
                          : scores.argmax(-1);
    if (!eos.empty()) next = next.mul(unfinished).add(at::rsub(unfinished, 1).mul(pad));  // finished rows get pad
    sequences.select(1, length).copy_(next);
    ++length;
    if (options.streamer) options.streamer(next.to(at::kCPU));
    if (!eos.empty()) unfinished.mul_(at::isin(next, eos_tensor).logical_not());
    if (length >= max_length || (!eos.empty() && unfinished.max().item<std::int64_t>() == 0)) break;
    logits = decoder.step(sequences.narrow(1, 0, length));
  }
  result.sequences = sequences.narrow(1, 0, length).contiguous();
  result.past_key_values = decoder.cache();
  return result;
}

}  // namespace

GenerateOutput generate(PreTrainedModel& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const GenerateOptions& options) {
  configure_threads();
  configure_cpu_allocator();
  if (!input_ids.defined() || input_ids.dim() != 2)
    throw ValueError("generate needs input_ids [batch, prompt], got " +
                     (input_ids.defined() ? c10::str(input_ids.sizes()) : std::string("none")));
  const GenerationConfig config = resolve_generation_config(model, options, input_ids.size(1));
  validate(model, input_ids, config, options);
  c10::NoGradGuard no_grad;
  const auto device = model.device();
  at::Tensor ids = input_ids.to(device);
  at::Tensor mask = attention_mask.defined() ? attention_mask.to(device).to(at::kLong) : default_attention_mask(ids, config);
  if (!mask.sizes().equals(ids.sizes()))
    throw ValueError("attention_mask " + c10::str(mask.sizes()) + " does not match input_ids " + c10::str(ids.sizes()));
  const auto pad = config.pad_token_id();
  if (pad && ids.size(0) > 1 && ids.select(1, -1).eq(*pad).any().item<bool>())
    logging::warning("A decoder-only architecture is being used, but right-padding was detected! For correct "
                     "generation results, please set `padding_side='left'` when initializing the tokenizer.");

  const auto eos = config.eos_token_ids();
  const LogitsProcessorList processors = build_logits_processors(config, ids.size(1), eos);
  c10::optional<at::Generator> generator;
  if (options.seed) generator = at::make_generator<at::CPUGeneratorImpl>(*options.seed);

  const std::int64_t beams = config.num_beams();
  if (beams > 1) {
    return detail::beam_search(model, ids.repeat_interleave(beams, 0), mask.repeat_interleave(beams, 0), config,
                               processors, eos, options, generator);
  }
  const std::int64_t copies = config.num_return_sequences();
  if (copies > 1) {  // sampling several continuations per prompt
    ids = ids.repeat_interleave(copies, 0);
    mask = mask.repeat_interleave(copies, 0);
  }
  return sample(model, ids, mask, config, processors, eos, options, generator);
}

}  // namespace hfcpp
