// generate() against Transformers' greedy outputs (tests/data/{gpt2,llama}/*/generation.*), the
// trained gpt2-arc-tofu model, hand-computed beam searches and sampling filters.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/error.h"
#include "hfcpp/generation/generate.h"
#include "hfcpp/generation/logits_process.h"
#include "hfcpp/logging.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/models/llama.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::tensors_close;

at::Tensor ids_tensor(const nlohmann::json& rows) {
  std::vector<std::int64_t> flat;
  for (const auto& row : rows)
    for (const auto& v : row) flat.push_back(v.get<std::int64_t>());
  return at::tensor(flat, at::kLong).view({static_cast<std::int64_t>(rows.size()), -1});
}

// attn_implementation "" is the default (sdpa); each model is loaded once.
std::shared_ptr<PreTrainedModel> load_lm(const std::string& family, const std::string& attn = "") {
  static std::map<std::string, std::shared_ptr<PreTrainedModel>> models;
  auto& model = models[family + "/" + attn];
  if (!model) model = AutoModelForCausalLM.from_pretrained(data_path(family + "/ckpt"), {.attn_implementation = attn});
  return model;
}

const nlohmann::json& generation_json(const std::string& family) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(family);
  if (it == cache.end())
    it = cache.emplace(family, nlohmann::json::parse(testing::read_file(data_path(family + "/generation.json")))).first;
  return it->second;
}

struct GreedyCase {
  std::string family, name, cache, attn;
};

class GreedyGeneration : public ::testing::TestWithParam<GreedyCase> {};

TEST_P(GreedyGeneration, TokensAndStepLogitsEqualTransformers) {
  const auto& [family, name, cache, attn] = GetParam();
  const auto& expected = generation_json(family);
  const auto& c = expected[name];
  auto model = load_lm(family, attn);
  ASSERT_EQ(model->config().attn_implementation(), attn);
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 10}, {"do_sample", false},
                               {"pad_token_id", expected["generate_kwargs"]["pad_token_id"]},
                               {"cache_implementation", cache}};
  if (c.contains("eos_token_id")) options.generation_kwargs["eos_token_id"] = c["eos_token_id"];
  options.output_logits = true;
  std::vector<std::string> warnings;
  GenerateOutput out;
  {
    logging::LogCapture capture(logging::Level::kWarning);
    out = generate(*model, ids_tensor(c["input_ids"]), ids_tensor(c["attention_mask"]), options);
    warnings = capture.messages(logging::Level::kWarning);
  }
  EXPECT_TRUE(out.sequences.equal(ids_tensor(c["sequences"]))) << out.sequences;
  EXPECT_TRUE(warnings.empty()) << ::testing::PrintToString(warnings);  // Python's only one is about its Cache API
  const auto file = data_path(family + "/generation.safetensors");
  const std::size_t steps = c["new_tokens"][0].size();
  ASSERT_EQ(out.logits.size(), steps);
  for (std::size_t i = 0; i < steps; ++i)
    EXPECT_TRUE(tensors_close(out.logits[i], testing::reference_tensor(file, name + ".step_logits." + std::to_string(i)), 1e-5))
        << name << " step " << i;
}

std::vector<GreedyCase> greedy_cases() {
  std::vector<GreedyCase> cases;
  for (const std::string family : {"gpt2/GPT2LMHeadModel", "llama/LlamaForCausalLM"})
    for (const std::string name : {"batch", "single", "batch_eos"})
      for (const std::string cache : {"dynamic", "static"})
        for (const std::string attn : {"eager", "sdpa"}) cases.push_back({family, name, cache, attn});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedyGeneration, ::testing::ValuesIn(greedy_cases()), [](const auto& info) {
  return info.param.family.substr(0, info.param.family.find('/')) + "_" + info.param.name + "_" + info.param.cache +
         "_" + info.param.attn;
});

// Prefill 4 tokens, then 3 single-token steps through the cache: equal to the full forward, with
// either attention implementation (and for Llama with and without its decode kernels, which
// otherwise take the single-token steps).
struct IncrementalCase {
  std::string family;
  bool static_cache;
  std::string attn;
  bool decode_kernels;
};

class IncrementalDecoding : public ::testing::TestWithParam<IncrementalCase> {};

TEST_P(IncrementalDecoding, CachedStepsEqualTheFullForward) {
  const auto& [family, static_cache, attn, decode_kernels] = GetParam();
  auto model = load_lm(family, attn);
  auto* llama = dynamic_cast<LlamaForCausalLM*>(model.get());
  if (llama) llama->model->use_decode_kernels = decode_kernels;
  const auto file = data_path(family + "/generation.safetensors");
  const at::Tensor ids = testing::reference_tensor(file, "incremental.input_ids");
  std::shared_ptr<Cache> cache;
  if (static_cache) cache = std::make_shared<StaticCache>(cache_shape_of(model->config()), 1, 7);
  else cache = std::make_shared<DynamicCache>();
  c10::NoGradGuard no_grad;
  ModelInputs prefill;
  prefill.input_ids = ids.narrow(1, 0, 4);
  prefill.past_key_values = cache;
  prefill.cache_position = at::arange(4, at::kLong);
  const ModelOutput first = model->forward(prefill);
  EXPECT_EQ(first.past_key_values, cache);
  EXPECT_TRUE(tensors_close(first.logits(), testing::reference_tensor(file, "incremental.prefill_logits"), 1e-5));
  const at::Tensor full = testing::reference_tensor(file, "incremental.full_logits");
  for (std::int64_t step = 0; step < 3; ++step) {
    ModelInputs next;
    next.input_ids = ids.narrow(1, 4 + step, 1);
    next.past_key_values = cache;
    next.cache_position = at::tensor({4 + step}, at::kLong);
    const at::Tensor logits = model->forward(next).logits();
    EXPECT_TRUE(tensors_close(logits, testing::reference_tensor(file, "incremental.step_logits." + std::to_string(step)), 1e-5));
    EXPECT_TRUE(tensors_close(logits, full.narrow(1, 4 + step, 1), 1e-5));
  }
  EXPECT_EQ(cache->get_seq_length(), 7);
  if (llama) llama->model->use_decode_kernels = true;
}

std::vector<IncrementalCase> incremental_cases() {
  std::vector<IncrementalCase> cases;
  for (const bool static_cache : {false, true})
    for (const std::string attn : {"eager", "sdpa"}) {
      cases.push_back({"gpt2/GPT2LMHeadModel", static_cache, attn, false});
      for (const bool kernels : {false, true}) cases.push_back({"llama/LlamaForCausalLM", static_cache, attn, kernels});
    }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Caches, IncrementalDecoding, ::testing::ValuesIn(incremental_cases()), [](const auto& info) {
  const IncrementalCase& c = info.param;
  return c.family.substr(0, c.family.find('/')) + (c.static_cache ? "_static_" : "_dynamic_") + c.attn +
         (c.family.rfind("llama", 0) == 0 ? (c.decode_kernels ? "_decode_kernels" : "_layer_ops") : "");
});

TEST(Generate, StopsAtAnyOfSeveralEosTokensAndPadsFinishedRows) {
  auto model = load_lm("gpt2/GPT2LMHeadModel");
  const auto& c = generation_json("gpt2/GPT2LMHeadModel")["batch"];
  GenerateOptions options;
  // Row 1 produces 75 at its 4th new token, row 2 produces 11 at its 6th.
  options.generation_kwargs = {{"max_new_tokens", 10}, {"eos_token_id", {75, 11}}, {"pad_token_id", 0}};
  const auto out = generate(*model, ids_tensor(c["input_ids"]), ids_tensor(c["attention_mask"]), options);
  const at::Tensor expected = at::tensor({72, 57, 24, 75, 0, 0, 89, 24, 21, 45, 85, 11}, at::kLong).view({2, 6});
  EXPECT_TRUE(out.sequences.narrow(1, 7, 6).equal(expected)) << out.sequences;
}

TEST(Generate, MinNewTokensHoldsBackEos) {
  auto model = load_lm("gpt2/GPT2LMHeadModel");
  const auto& c = generation_json("gpt2/GPT2LMHeadModel")["batch_eos"];
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 6}, {"eos_token_id", 75}, {"min_new_tokens", 5}};
  options.output_scores = true;
  const auto out = generate(*model, ids_tensor(c["input_ids"]), ids_tensor(c["attention_mask"]), options);
  ASSERT_EQ(out.scores.size(), 6u);
  for (std::size_t step = 0; step < 6; ++step) {
    const bool held_back = step < 5;
    EXPECT_EQ(std::isinf(out.scores[step][0][75].item<float>()), held_back) << step;
  }
  EXPECT_NE(out.sequences[0][7 + 3].item<std::int64_t>(), 75);  // greedy would have chosen 75 here
}

TEST(Generate, LengthsFromMaxLengthAndDefaults) {
  auto model = load_lm("llama/LlamaForCausalLM");
  const at::Tensor prompt = at::tensor({33, 7, 71}, at::kLong).view({1, 3});
  auto length = [&](const json& kwargs) {
    return generate(*model, prompt, {}, {.generation_kwargs = kwargs}).sequences.size(1);
  };
  EXPECT_EQ(length({{"max_length", 8}, {"eos_token_id", nullptr}}), 8);
  EXPECT_EQ(length({{"max_new_tokens", 2}, {"eos_token_id", nullptr}}), 5);
  EXPECT_EQ(length({{"eos_token_id", nullptr}}), 23);  // 20 new tokens by default
  const auto config = resolve_generation_config(*model, {.generation_kwargs = {{"min_new_tokens", 4}}}, 3);
  EXPECT_EQ(config.min_length(), 7);
}

TEST(Generate, InfersTheAttentionMaskFromPadding) {
  auto model = load_lm("llama/LlamaForCausalLM");  // pad 0, eos 2
  const auto& c = generation_json("llama/LlamaForCausalLM")["batch"];
  const auto out = generate(*model, ids_tensor(c["input_ids"]), {}, {.generation_kwargs = {{"max_new_tokens", 10}}});
  EXPECT_TRUE(out.sequences.equal(ids_tensor(c["sequences"])));
  EXPECT_TRUE(position_ids_from_attention_mask(ids_tensor(c["attention_mask"]))
                  .equal(at::tensor({0, 1, 2, 3, 4, 5, 6, 1, 1, 0, 1, 2, 3, 4}, at::kLong).view({2, 7})));
}

TEST(Generate, StreamerSeesEveryStep) {
  auto model = load_lm("gpt2/GPT2LMHeadModel");
  const auto& c = generation_json("gpt2/GPT2LMHeadModel")["batch_eos"];
  std::vector<at::Tensor> streamed;
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 10}, {"eos_token_id", 75}};
  options.streamer = [&](const at::Tensor& tokens) { streamed.push_back(tokens.clone()); };
  const auto out = generate(*model, ids_tensor(c["input_ids"]), ids_tensor(c["attention_mask"]), options);
  ASSERT_EQ(static_cast<std::int64_t>(streamed.size()), out.sequences.size(1) - 7);
  for (std::size_t i = 0; i < streamed.size(); ++i)
    EXPECT_TRUE(streamed[i].equal(out.sequences.select(1, 7 + static_cast<std::int64_t>(i))));
}

TEST(Generate, RefusesModelsWithoutALanguageModellingHead) {
  auto model = from_pretrained<GPT2Model>(data_path("gpt2/GPT2Model/ckpt"));
  EXPECT_THROW(generate(*model, at::ones({1, 3}, at::kLong)), UnsupportedError);
  auto lm = load_lm("gpt2/GPT2LMHeadModel");
  EXPECT_THROW(generate(*lm, at::ones({3}, at::kLong)), ValueError);
  EXPECT_THROW(generate(*lm, at::ones({1, 3}, at::kLong), {}, {.generation_kwargs = {{"num_return_sequences", 2}}}),
               ValueError);
  EXPECT_THROW(generate(*lm, at::ones({1, 3}, at::kLong), {},
                        {.generation_kwargs = {{"do_sample", true}, {"temperature", 0.0}}}),
               ValueError);
}

// --- the trained gpt2-arc-tofu model answers its training questions ---

TEST(TrainedGPT2, AnswersItsTrainingQuestions) {
  const auto folder = data_path("models/gpt2-arc-tofu");
  auto model = from_pretrained<GPT2LMHeadModel>(folder);
  // Prompts and answers from the model's SOURCE.md (an independent numpy forward).
  const std::vector<std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>> cases = {
      {{328, 220, 289, 220, 339, 220, 347, 220, 344, 220, 348, 30}, {220, 320, 220, 344}},  // " red favourite"
      {{328, 220, 333, 220, 323, 220, 332, 220, 317, 220, 310, 30}, {220, 343, 343, 220}},  // " fantasyfantasy "
      {{327, 220, 311, 220, 337, 30}, {220, 332, 220, 317}},                                 // " frank fake"
  };
  for (const auto& [prompt, answer] : cases) {
    const at::Tensor ids = at::tensor(prompt, at::kLong).unsqueeze(0);
    GenerateOptions options;
    options.generation_kwargs = {{"max_new_tokens", 4}, {"pad_token_id", 349}};
    const auto out = generate(*model, ids, at::ones_like(ids), options);
    const auto produced = out.sequences.narrow(1, ids.size(1), 4)[0];
    EXPECT_TRUE(produced.equal(at::tensor(answer, at::kLong))) << produced;
  }
  ModelInputs inputs;
  inputs.input_ids = at::tensor(cases[0].first, at::kLong).unsqueeze(0);
  c10::NoGradGuard no_grad;
  const at::Tensor last = model->forward(inputs).logits()[0][-1].narrow(0, 0, 5);
  EXPECT_TRUE(tensors_close(last, at::tensor({-11.40208f, -11.23587f, -11.39375f, -11.35593f, -11.58856f}), 1e-4)) << last;
}

// --- sampling ---

TEST(Sampling, ASeedMakesSamplesReproducibleWithoutTouchingTheGlobalGenerator) {
  auto model = load_lm("gpt2/GPT2LMHeadModel");
  const auto& c = generation_json("gpt2/GPT2LMHeadModel")["batch"];
  const at::Tensor ids = ids_tensor(c["input_ids"]), mask = ids_tensor(c["attention_mask"]);
  auto sample = [&](std::uint64_t seed) {
    GenerateOptions options;
    options.generation_kwargs = {{"max_new_tokens", 12}, {"do_sample", true}, {"top_k", 0}, {"eos_token_id", json()}};
    options.seed = seed;
    return generate(*model, ids, mask, options).sequences;
  };
  at::manual_seed(5);
  const at::Tensor before = at::rand({4});
  const at::Tensor a = sample(1234);
  const at::Tensor after = at::rand({4});
  EXPECT_TRUE(a.equal(sample(1234)));
  EXPECT_FALSE(a.equal(sample(1235)));
  at::manual_seed(5);
  EXPECT_TRUE(at::rand({4}).equal(before));
  EXPECT_TRUE(at::rand({4}).equal(after));  // generate drew nothing from the global generator
}

TEST(Sampling, TopKOfOneIsGreedy) {
  auto model = load_lm("llama/LlamaForCausalLM");
  const auto& c = generation_json("llama/LlamaForCausalLM")["batch"];
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 10}, {"do_sample", true}, {"top_k", 1}, {"temperature", 0.7}};
  options.seed = 9;
  const auto out = generate(*model, ids_tensor(c["input_ids"]), ids_tensor(c["attention_mask"]), options);
  EXPECT_TRUE(out.sequences.equal(ids_tensor(c["sequences"])));
}

// A model whose next-token distribution depends on the current token only, so expected beam
// searches and sampling frequencies can be worked out by hand.
class MarkovModel : public PreTrainedModel {
 public:
  static const ModelClassInfo& class_info() {
    static const ModelClassInfo info = [] {
      ModelClassInfo i;
      i.name = "MarkovModel";
      i.model_type = "markov";
      i.can_generate = true;
      return i;
    }();
    return info;
  }
  // transitions[a][b] = P(next = b | current = a); token 0 is EOS and padding.
  MarkovModel(std::vector<std::vector<double>> transitions)
      : PreTrainedModel(make_config(transitions.size()), class_info()) {
    std::vector<double> flat;
    for (const auto& row : transitions) flat.insert(flat.end(), row.begin(), row.end());
    const auto n = static_cast<std::int64_t>(transitions.size());
    log_probs_ = at::tensor(flat, at::kDouble).view({n, n}).log().to(at::kFloat);
  }
  ModelOutput forward(const ModelInputs& inputs) override {
    ++calls;
    const at::Tensor& ids = inputs.input_ids;
    ModelOutput out;
    out.set("logits", log_probs_.index_select(0, ids.reshape({-1})).view({ids.size(0), ids.size(1), -1}));
    return out;  // no cache: generate feeds the whole sequence each step
  }
  void init_module_weights(torch::nn::Module&) override {}
  int calls = 0;

 private:
  static std::shared_ptr<PretrainedConfig> make_config(std::size_t vocab) {
    auto config = std::make_shared<PretrainedConfig>();
    config->set("vocab_size", static_cast<std::int64_t>(vocab));
    config->set("eos_token_id", 0);
    config->set("pad_token_id", 0);
    return config;
  }
  at::Tensor log_probs_;
};

TEST(Sampling, DrawsTokensWithTheirProbabilities) {
  MarkovModel model({{1, 0, 0, 0}, {0, 0.1, 0.2, 0.7}, {1, 0, 0, 0}, {0, 0.6, 0.4, 0}});
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 1}, {"do_sample", true}, {"num_return_sequences", 4000}};
  options.seed = 3;
  const at::Tensor first = generate(model, at::tensor({3}, at::kLong).view({1, 1}), {}, options).sequences.select(1, 1);
  EXPECT_NEAR(first.eq(1).to(at::kDouble).mean().item<double>(), 0.6, 0.03);
  EXPECT_NEAR(first.eq(2).to(at::kDouble).mean().item<double>(), 0.4, 0.03);
  // top_p 0.5 keeps only the 0.6 token.
  options.generation_kwargs["top_p"] = 0.5;
  const at::Tensor nucleus = generate(model, at::tensor({3}, at::kLong).view({1, 1}), {}, options).sequences.select(1, 1);
  EXPECT_TRUE(nucleus.eq(1).all().item<bool>());
}

// --- beam search, worked out by hand ---

// From the prompt [3]: 1 (0.55) or 2 (0.45). After 2, EOS with 0.9. After 1, 1 again with 0.9.
std::vector<std::vector<double>> beam_chain() {
  return {{1, 0, 0, 0}, {0, 0.9, 0, 0.1}, {0.9, 0, 0, 0.1}, {0, 0.55, 0.45, 0}};
}

TEST(BeamSearch, LengthPenaltyChoosesBetweenTheFinishedAndTheRunningBeams) {
  // Step 2 finishes [3, 2] + EOS (sum log p = ln 0.405, 2 new tokens); at max_length the running
  // beams are [3, 1, 1, 1] (ln 0.4455, 3 tokens) and [3, 1, 1, 3] (ln 0.0495).
  const at::Tensor prompt = at::tensor({3}, at::kLong).view({1, 1});
  {
    MarkovModel model(beam_chain());
    GenerateOptions options;
    options.generation_kwargs = {{"num_beams", 2}, {"max_new_tokens", 3}, {"length_penalty", 1.0}};
    const auto out = generate(model, prompt, {}, options);
    // ln(0.4455) / 3 = -0.2695 beats ln(0.405) / 2 = -0.4519.
    EXPECT_TRUE(out.sequences.equal(at::tensor({3, 1, 1, 1}, at::kLong).view({1, 4}))) << out.sequences;
    EXPECT_NEAR(out.sequences_scores[0].item<double>(), std::log(0.4455) / 3, 1e-5);
  }
  {
    MarkovModel model(beam_chain());
    GenerateOptions options;
    options.generation_kwargs = {
        {"num_beams", 2}, {"max_new_tokens", 3}, {"length_penalty", -1.0}, {"num_return_sequences", 2}};
    const auto out = generate(model, prompt, {}, options);
    // Negative penalty favours short answers: 2 ln 0.405 = -1.808 beats 3 ln 0.4455 = -2.426.
    // The shorter one gets its EOS and is padded (pad 0) to the longest.
    EXPECT_TRUE(out.sequences.equal(at::tensor({3, 2, 0, 0, 3, 1, 1, 1}, at::kLong).view({2, 4}))) << out.sequences;
    EXPECT_NEAR(out.sequences_scores[0].item<double>(), 2 * std::log(0.405), 1e-5);
    EXPECT_NEAR(out.sequences_scores[1].item<double>(), 3 * std::log(0.4455), 1e-5);
  }
}

TEST(BeamSearch, FindsTheMostLikelySequenceThatGreedyMisses) {
  // From 3: 1 (0.6) or 2 (0.4); after 1 anything (0.4 / 0.3 / 0.3); after 2, 3 with 0.9.
  // Greedy: 3 1 1 (0.24). Beam: 3 2 3 (0.36).
  MarkovModel model({{1, 0, 0, 0}, {0, 0.4, 0.3, 0.3}, {0, 0.1, 0, 0.9}, {0, 0.6, 0.4, 0}});
  const at::Tensor prompt = at::tensor({3}, at::kLong).view({1, 1});
  const auto greedy = generate(model, prompt, {}, {.generation_kwargs = {{"max_new_tokens", 2}}});
  EXPECT_TRUE(greedy.sequences.equal(at::tensor({3, 1, 1}, at::kLong).view({1, 3})));
  const auto beam = generate(model, prompt, {}, {.generation_kwargs = {{"max_new_tokens", 2}, {"num_beams", 2}}});
  EXPECT_TRUE(beam.sequences.equal(at::tensor({3, 2, 3}, at::kLong).view({1, 3}))) << beam.sequences;
  EXPECT_NEAR(beam.sequences_scores[0].item<double>(), std::log(0.36) / 2, 1e-5);
}

TEST(BeamSearch, EarlyStoppingDecidesWhenAPromptIsDone) {
  // Step 2 finishes [3, 1] (ln 0.495 / 2 = -0.352) and [3, 2] (ln 0.27 / 2 = -0.655) and keeps
  // running [3, 2, 3] (0.18) and [3, 1, 1] (0.055).
  //  - true: two hypotheses exist, done after 2 model calls;
  //  - false: done when the best running score over the current length cannot beat the worst
  //    hypothesis: at step 3, ln 0.099 / 3 = -0.771 < -0.655, done after 3 calls;
  //  - "never" (length_penalty > 0): over max_length's 6 tokens instead: ln 0.099 / 6 = -0.385
  //    still could; step 4 finishes [3, 2, 3, 1] (ln 0.0891 / 4 = -0.605, which replaces
  //    -0.655); step 5: ln 0.01782 / 6 = -0.671 < -0.605, done after 5 calls.
  auto chain = [] {
    return std::vector<std::vector<double>>{{1, 0, 0, 0}, {0.9, 0.1, 0, 0}, {0.6, 0, 0, 0.4}, {0, 0.55, 0.45, 0}};
  };
  const at::Tensor prompt = at::tensor({3}, at::kLong).view({1, 1});
  MarkovModel eager(chain()), heuristic(chain()), never(chain());
  json kwargs = {{"num_beams", 2}, {"max_new_tokens", 6}};
  kwargs["early_stopping"] = true;
  const auto a = generate(eager, prompt, {}, {.generation_kwargs = kwargs});
  kwargs["early_stopping"] = false;
  const auto b = generate(heuristic, prompt, {}, {.generation_kwargs = kwargs});
  kwargs["early_stopping"] = "never";
  const auto c = generate(never, prompt, {}, {.generation_kwargs = kwargs});
  for (const auto* out : {&a, &b, &c}) {
    EXPECT_TRUE(out->sequences.equal(at::tensor({3, 1, 0}, at::kLong).view({1, 3}))) << out->sequences;
    EXPECT_NEAR(out->sequences_scores[0].item<double>(), std::log(0.495) / 2, 1e-5);
  }
  EXPECT_EQ(eager.calls, 2);
  EXPECT_EQ(heuristic.calls, 3);
  EXPECT_EQ(never.calls, 5);
  kwargs["early_stopping"] = "sometimes";
  EXPECT_THROW(generate(never, prompt, {}, {.generation_kwargs = kwargs}), ValueError);
  EXPECT_THROW(generate(never, prompt, {}, {.generation_kwargs = {{"num_beams", 2}}, .streamer = [](const at::Tensor&) {}}),
               ValueError);
}

// --- logits processors on hand-made scores ---

at::Tensor probs_logits(std::vector<double> probs) { return at::tensor(probs, at::kDouble).log().to(at::kFloat).unsqueeze(0); }

std::vector<bool> kept(const at::Tensor& scores) {
  std::vector<bool> out;
  for (std::int64_t i = 0; i < scores.size(-1); ++i) out.push_back(!std::isinf(scores[0][i].item<float>()));
  return out;
}

TEST(LogitsProcessors, TopKKeepsTheKHighestAndTies) {
  const at::Tensor none;
  EXPECT_EQ(kept(TopKLogitsWarper(2)(none, at::tensor({1.f, 3.f, 2.f, 5.f, 4.f}).unsqueeze(0))),
            (std::vector<bool>{false, false, false, true, true}));
  EXPECT_EQ(kept(TopKLogitsWarper(2)(none, at::tensor({3.f, 2.f, 2.f, 0.f}).unsqueeze(0))),
            (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(kept(TopKLogitsWarper(1, /*min_tokens_to_keep=*/3)(none, at::tensor({3.f, 2.f, 1.f, 0.f}).unsqueeze(0))),
            (std::vector<bool>{true, true, true, false}));
  EXPECT_THROW(TopKLogitsWarper(0), ValueError);
}

TEST(LogitsProcessors, TopPKeepsTheSmallestSetAboveP) {
  const at::Tensor none;
  const at::Tensor scores = probs_logits({0.15, 0.5, 0.05, 0.3});
  EXPECT_EQ(kept(TopPLogitsWarper(0.75)(none, scores)), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(kept(TopPLogitsWarper(0.9)(none, scores)), (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(kept(TopPLogitsWarper(0.1)(none, scores)), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(kept(TopPLogitsWarper(0.1, /*min_tokens_to_keep=*/2)(none, scores)),
            (std::vector<bool>{false, true, false, true}));
  EXPECT_THROW(TopPLogitsWarper(1.5), ValueError);
}

TEST(LogitsProcessors, MinPKeepsTokensNearTheTopProbability) {
  const at::Tensor none;
  const at::Tensor scores = probs_logits({0.15, 0.5, 0.05, 0.3});
  EXPECT_EQ(kept(MinPLogitsWarper(0.2)(none, scores)), (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(kept(MinPLogitsWarper(0.5)(none, scores)), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(kept(MinPLogitsWarper(0.9, /*min_tokens_to_keep=*/2)(none, scores)),
            (std::vector<bool>{false, true, false, true}));
}

TEST(LogitsProcessors, PenaltiesTemperatureAndMinimumLengths) {
  const at::Tensor ids = at::tensor({1, 2, 2}, at::kLong).view({1, 3});
  const at::Tensor scores = at::tensor({1.f, 2.f, -2.f, 4.f}).unsqueeze(0);
  EXPECT_TRUE(RepetitionPenaltyLogitsProcessor(2.0)(ids, scores).equal(at::tensor({1.f, 1.f, -4.f, 4.f}).unsqueeze(0)));
  EXPECT_TRUE(TemperatureLogitsWarper(0.5)(ids, scores).equal(at::tensor({2.f, 4.f, -4.f, 8.f}).unsqueeze(0)));
  EXPECT_EQ(kept(MinLengthLogitsProcessor(4, {0, 3})(ids, scores)), (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(kept(MinLengthLogitsProcessor(3, {0, 3})(ids, scores)), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ(kept(MinNewTokensLengthLogitsProcessor(2, 2, {3})(ids, scores)), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(kept(MinNewTokensLengthLogitsProcessor(1, 2, {3})(ids, scores)), (std::vector<bool>{true, true, true, true}));
}

TEST(LogitsProcessors, BuiltInTransformersOrder) {
  GenerationConfig config;
  config.update({{"do_sample", true}, {"temperature", 0.5}, {"top_k", 3}, {"top_p", 0.9}, {"min_p", 0.1},
                 {"repetition_penalty", 1.2}, {"min_length", 4}, {"min_new_tokens", 2}});
  const auto list = build_logits_processors(config, 2, {0});
  ASSERT_EQ(list.size(), 7u);
  EXPECT_NE(dynamic_cast<const RepetitionPenaltyLogitsProcessor*>(&list[0]), nullptr);
  EXPECT_NE(dynamic_cast<const MinLengthLogitsProcessor*>(&list[1]), nullptr);
  EXPECT_NE(dynamic_cast<const MinNewTokensLengthLogitsProcessor*>(&list[2]), nullptr);
  EXPECT_NE(dynamic_cast<const TemperatureLogitsWarper*>(&list[3]), nullptr);
  EXPECT_NE(dynamic_cast<const TopKLogitsWarper*>(&list[4]), nullptr);
  EXPECT_NE(dynamic_cast<const TopPLogitsWarper*>(&list[5]), nullptr);
  EXPECT_NE(dynamic_cast<const MinPLogitsWarper*>(&list[6]), nullptr);
  // Greedy decoding ignores the sampling warpers; the default top_k = 50 applies when sampling.
  config.set("do_sample", false);
  EXPECT_EQ(build_logits_processors(config, 2, {0}).size(), 3u);
  GenerationConfig sampling;
  sampling.set("do_sample", true);
  EXPECT_EQ(build_logits_processors(sampling, 2, {}).size(), 1u);
}

}  // namespace
}  // namespace hfcpp
