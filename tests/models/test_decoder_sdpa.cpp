// attn_implementation "sdpa" (the fused CPU kernel of hfcpp/nn/attention.h) in GPT-2 and Llama:
// dispatch as Transformers does, outputs equal to Transformers' eager fixtures and to our eager
// path (padding, GQA, several kernel tiles, KV caches, a sliding window), and the eager fallback
// when attention weights are asked for.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "../../src/nn/attention_kernel.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/models/llama.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using nn::detail::fused_attention_calls;
using testing::data_path;
using testing::reference_tensor;
using testing::tensors_close;

std::string attn_of(const PreTrainedModel& model) { return model.config().attn_implementation(); }

TEST(AttnImplementation, SdpaByDefaultRequestsHonouredFlashNeedsCuda) {
  const auto gpt2 = data_path("gpt2/GPT2Model/ckpt");
  const auto llama = data_path("llama/LlamaModel/ckpt");
  for (const auto& ckpt : {gpt2, llama}) {
    EXPECT_EQ(attn_of(*AutoModel.from_pretrained(ckpt)), "sdpa") << ckpt;
    EXPECT_EQ(attn_of(*AutoModel.from_pretrained(ckpt, {.attn_implementation = "eager"})), "eager") << ckpt;
    EXPECT_EQ(attn_of(*AutoModel.from_pretrained(ckpt, {.attn_implementation = "sdpa"})), "sdpa") << ckpt;
    try {
      AutoModel.from_pretrained(ckpt, {.attn_implementation = "flash_attention_2"});
      ADD_FAILURE() << "flash_attention_2 accepted without CUDA";
    } catch (const UnsupportedError& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
    }
  }
  auto model = from_pretrained<GPT2Model>(gpt2, {.attn_implementation = "eager"});
  EXPECT_EQ((*model->h)[1].attn->attn_implementation, "eager");
  auto llama_model = from_pretrained<LlamaModel>(llama);
  EXPECT_EQ((*llama_model->layers)[1].self_attn->attn_implementation, "sdpa");
}

ModelInputs fixture_inputs(const std::filesystem::path& reference, bool attentions) {
  ModelInputs inputs;
  inputs.input_ids = reference_tensor(reference, "input_ids");
  inputs.attention_mask = reference_tensor(reference, "attention_mask");  // row 1 is left-padded by 2
  inputs.output_hidden_states = true;
  inputs.output_attentions = attentions;
  return inputs;
}

// Every output of `out` that the reference holds, with past_key_values as past_key_values.<i>.<0|1>.
std::vector<std::pair<std::string, at::Tensor>> outputs_of(const ModelOutput& out) {
  auto produced = out.flatten();
  const auto layers = out.past_key_values->to_legacy_cache();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    produced.emplace_back("past_key_values." + std::to_string(i) + ".0", layers[i].first);
    produced.emplace_back("past_key_values." + std::to_string(i) + ".1", layers[i].second);
  }
  return produced;
}

// Llama (GQA: 4 query heads over 2 kv heads) with sdpa equals Transformers' eager outputs, padded
// query rows included: both give a row with every key masked the uniform average.
TEST(LlamaSdpa, EqualsTransformersEagerFixtures) {
  for (const std::string cls : {"LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification"}) {
    const auto folder = data_path("llama/" + cls);
    const auto reference = folder / "reference.safetensors";
    auto model = load_model_class(cls, folder / "ckpt", {.attn_implementation = "sdpa"});
    c10::NoGradGuard no_grad;
    const std::int64_t calls = fused_attention_calls();
    const ModelOutput out = model->forward(fixture_inputs(reference, false));
    EXPECT_EQ(fused_attention_calls() - calls, 2) << "one fused call per layer";
    int compared = 0;
    for (const auto& [name, tensor] : outputs_of(out)) {
      EXPECT_TRUE(tensors_close(tensor.contiguous(), reference_tensor(reference, name), 1e-5)) << cls << " " << name;
      ++compared;
    }
    EXPECT_GE(compared, 4 + 3 + 1);  // past k/v, hidden states, the head's output
  }
}

// GPT-2 with sdpa equals Transformers' eager outputs at every real token. (At a left-padded query
// whose only visible key is padding, GPT-2's eager math sums two finfo.min into -inf for the
// padded future keys; the fused kernel treats every masked key alike. Such rows are never read.)
TEST(GPT2Sdpa, EqualsTransformersEagerFixturesAtRealTokens) {
  for (const std::string cls : {"GPT2Model", "GPT2LMHeadModel"}) {
    const auto folder = data_path("gpt2/" + cls);
    const auto reference = folder / "reference.safetensors";
    auto model = load_model_class(cls, folder / "ckpt", {.attn_implementation = "sdpa"});
    c10::NoGradGuard no_grad;
    const std::int64_t calls = fused_attention_calls();
    const ModelOutput out = model->forward(fixture_inputs(reference, false));
    EXPECT_EQ(fused_attention_calls() - calls, 2);
    for (const auto& [name, tensor] : outputs_of(out)) {
      const at::Tensor expected = reference_tensor(reference, name);
      const std::int64_t seq_dim = name.rfind("past_key_values", 0) == 0 ? 2 : 1;
      EXPECT_TRUE(tensors_close(tensor[0], expected[0], 1e-5)) << cls << " " << name;
      EXPECT_TRUE(tensors_close(tensor[1].narrow(seq_dim - 1, 2, 5), expected[1].narrow(seq_dim - 1, 2, 5), 1e-5))
          << cls << " " << name;
    }
  }
}

// Attention weights cannot come out of the fused kernel: the eager math runs (Transformers warns
// once), and the weights equal the fixtures.
TEST(Sdpa, OutputAttentionsFallsBackToEager) {
  for (const std::string family : {"gpt2/GPT2Model", "llama/LlamaModel"}) {
    const auto folder = data_path(family);
    const auto reference = folder / "reference.safetensors";
    auto model = AutoModel.from_pretrained(folder / "ckpt", {.attn_implementation = "sdpa"});
    c10::NoGradGuard no_grad;
    const std::int64_t calls = fused_attention_calls();
    const ModelOutput out = model->forward(fixture_inputs(reference, true));
    EXPECT_EQ(fused_attention_calls(), calls) << family;
    ASSERT_EQ(out.attentions().size(), 2u);
    for (std::size_t i = 0; i < 2; ++i)
      EXPECT_TRUE(tensors_close(out.attentions()[i], reference_tensor(reference, "attentions." + std::to_string(i)), 1e-5))
          << family << " layer " << i;
  }
}

// --- sdpa against eager on random models large enough for several kernel tiles ---

template <typename Model>
std::pair<std::shared_ptr<Model>, std::shared_ptr<Model>> eager_and_sdpa(PretrainedConfig config) {
  config.set_attn_implementation("eager");
  auto eager = from_config<Model>(config);
  config.set_attn_implementation("sdpa");
  auto sdpa = from_config<Model>(config);
  c10::NoGradGuard no_grad;
  const auto source = eager->named_parameters();
  for (auto& item : sdpa->named_parameters()) item.value().copy_(source[item.key()]);
  eager->eval();
  sdpa->eval();
  return {eager, sdpa};
}

PretrainedConfig llama_config(const std::string& type = "llama") {
  auto config = PretrainedConfig::for_model_type(type);
  config.update({{"hidden_size", 64}, {"num_attention_heads", 8}, {"num_key_value_heads", 2}, {"num_hidden_layers", 2},
                 {"intermediate_size", 96}, {"vocab_size", 100}, {"max_position_embeddings", 512},
                 {"initializer_range", 0.2}});
  return config;
}

PretrainedConfig gpt2_config() {
  auto config = PretrainedConfig::for_model_type("gpt2");
  config.update({{"n_embd", 64}, {"n_layer", 2}, {"n_head", 4}, {"vocab_size", 100}, {"n_positions", 512},
                 {"initializer_range", 0.2}});
  return config;
}

// Batch 2, 150 tokens; row 1 left-padded by 37.
struct Batch {
  at::Tensor ids, mask;
};
Batch padded_batch(std::int64_t seq = 150, std::int64_t pad = 37) {
  at::manual_seed(7);
  Batch b{at::randint(1, 100, {2, seq}, at::kLong), at::ones({2, seq}, at::kLong)};
  b.mask[1].narrow(0, 0, pad).zero_();
  b.ids[1].narrow(0, 0, pad).zero_();
  return b;
}

// Real (unpadded) positions of [2, seq, ...] outputs of padded_batch, concatenated.
at::Tensor real_rows(const at::Tensor& t, std::int64_t pad = 37) {
  return at::cat({t[0], t[1].narrow(0, pad, t.size(1) - pad)});
}

ModelInputs step(const at::Tensor& ids, const at::Tensor& mask, std::shared_ptr<Cache> cache) {
  ModelInputs in;
  in.input_ids = ids;
  in.attention_mask = mask;
  in.past_key_values = std::move(cache);
  in.use_cache = true;
  return in;
}

// 1e-5 relative to the largest logit: these logits reach ~7, where float32's spacing is 5e-7 and
// two summation orders (and the kernel's exp) differ by a few dozen of those.
double logit_tolerance(const at::Tensor& expected) {
  return 1e-5 * std::max(1.0, expected.abs().max().item<double>());
}

// Prefill 150 tokens into the cache, then 3 single tokens and a chunk of 4: every logit of the
// sdpa model equals the eager model's; the fused kernel ran for every layer of every call.
template <typename Model>
void expect_cached_decoding_equal(Model& eager, Model& sdpa, bool static_cache, bool all_rows) {
  const Batch b = padded_batch();
  const auto shape = cache_shape_of(eager.config());
  auto make_cache = [&]() -> std::shared_ptr<Cache> {
    if (static_cache) return std::make_shared<StaticCache>(shape, 2, 160);
    return std::make_shared<DynamicCache>();
  };
  auto eager_cache = make_cache(), sdpa_cache = make_cache();
  c10::NoGradGuard no_grad;
  at::Tensor ids = b.ids, mask = b.mask;
  std::int64_t done = 0;
  for (const std::int64_t chunk : {150, 1, 1, 1, 4}) {
    at::Tensor new_ids = chunk == 150 ? ids : at::randint(1, 100, {2, chunk}, at::kLong);
    if (chunk != 150) mask = at::cat({mask, at::ones({2, chunk}, at::kLong)}, 1);
    const std::int64_t calls = fused_attention_calls();
    const at::Tensor expected = eager.forward(step(new_ids, mask, eager_cache)).logits();
    EXPECT_EQ(fused_attention_calls(), calls) << "eager must not run the kernel";
    const at::Tensor actual = sdpa.forward(step(new_ids, mask, sdpa_cache)).logits();
    EXPECT_EQ(fused_attention_calls() - calls, 2) << "after " << done << " tokens";
    const double tolerance = logit_tolerance(expected);
    if (chunk == 150 && !all_rows) {
      EXPECT_TRUE(tensors_close(real_rows(actual), real_rows(expected), tolerance));
    } else {
      EXPECT_TRUE(tensors_close(actual, expected, tolerance)) << "after " << done << " tokens, chunk " << chunk;
    }
    done += chunk;
  }
  EXPECT_EQ(sdpa_cache->get_seq_length(), 157);
}

TEST(LlamaSdpa, EqualsEagerOverManyTilesWithPaddingGqaAndCaches) {
  auto [eager, sdpa] = eager_and_sdpa<LlamaForCausalLM>(llama_config());
  // The decode kernels would take the single-token steps; these must go through sdpa.
  eager->model->use_decode_kernels = false;
  sdpa->model->use_decode_kernels = false;
  for (const bool static_cache : {false, true}) {
    SCOPED_TRACE(static_cache ? "static cache" : "dynamic cache");
    // Padded query rows attend uniformly to every key in both; with a static cache eager counts
    // its unwritten slots among them, sdpa only the written keys. Such rows are never read.
    expect_cached_decoding_equal(*eager, *sdpa, static_cache, /*all_rows=*/!static_cache);
  }
  // No padding at all: no mask reaches the kernel, the causal rule alone.
  const Batch b = padded_batch(150, 0);
  c10::NoGradGuard no_grad;
  ModelInputs in;
  in.input_ids = b.ids;
  const at::Tensor expected = eager->forward(in).logits();
  EXPECT_TRUE(tensors_close(sdpa->forward(in).logits(), expected, logit_tolerance(expected)));
}

TEST(GPT2Sdpa, EqualsEagerOverManyTilesWithPaddingAndCaches) {
  auto [eager, sdpa] = eager_and_sdpa<GPT2LMHeadModel>(gpt2_config());
  for (const bool static_cache : {false, true}) {
    SCOPED_TRACE(static_cache ? "static cache" : "dynamic cache");
    expect_cached_decoding_equal(*eager, *sdpa, static_cache, /*all_rows=*/false);
  }
}

// Scaling knobs reach the kernel: no 1/sqrt(head_dim), and 1/(layer + 1).
TEST(GPT2Sdpa, ScalingKnobsEqualEager) {
  auto config = gpt2_config();
  config.update({{"scale_attn_weights", false}, {"scale_attn_by_inverse_layer_idx", true}});
  auto [eager, sdpa] = eager_and_sdpa<GPT2LMHeadModel>(config);
  const Batch b = padded_batch(100, 0);
  c10::NoGradGuard no_grad;
  ModelInputs in;
  in.input_ids = b.ids;
  const at::Tensor expected = eager->forward(in).logits();
  EXPECT_TRUE(tensors_close(sdpa->forward(in).logits(), expected, logit_tolerance(expected)));
}

// A sliding window shorter than the keys cannot be the causal rule: the materialised mask goes to
// the kernel instead, with the same result as eager.
TEST(LlamaSdpa, ASlidingWindowShorterThanTheKeysUsesTheFullMask) {
  auto config = llama_config("mistral");
  config.update({{"sliding_window", 40}});
  auto [eager, sdpa] = eager_and_sdpa<MistralForCausalLM>(config);
  ASSERT_EQ(sdpa->model->sliding_window.value_or(0), 40);
  const Batch b = padded_batch(120, 0);
  c10::NoGradGuard no_grad;
  ModelInputs in;
  in.input_ids = b.ids;
  const at::Tensor expected = eager->forward(in).logits();
  const std::int64_t calls = fused_attention_calls();
  EXPECT_TRUE(tensors_close(sdpa->forward(in).logits(), expected, logit_tolerance(expected)));
  EXPECT_EQ(fused_attention_calls() - calls, 2);
}

}  // namespace
}  // namespace hfcpp
