// Llama (and the Mistral / Qwen2 shapes it serves) against the outputs Python Transformers
// recorded (tests/data/llama, from shared/fixtures), and RoPE schedules against values computed
// from the published formulas (tests/data/llama/rope_reference.json, make_rope_reference.py).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/llama.h"
#include "hfcpp/models/rope.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::reference_tensor;
using testing::tensors_close;

ModelInputs reference_inputs(const std::filesystem::path& reference) {
  ModelInputs inputs;
  inputs.input_ids = reference_tensor(reference, "input_ids");
  inputs.attention_mask = reference_tensor(reference, "attention_mask");
  inputs.output_attentions = true;
  inputs.output_hidden_states = true;
  return inputs;
}

class LlamaReference : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaReference, EveryOutputEqualsTransformers) {
  const std::string cls = GetParam();
  const auto folder = data_path("llama/" + cls);
  const auto reference = folder / "reference.safetensors";
  LoadingInfo info;
  auto model = load_model_class(cls, folder / "ckpt", {}, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty());
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(reference_inputs(reference));
  const auto expected = SafetensorsFile::open(reference);
  auto produced = out.flatten();
  ASSERT_TRUE(out.past_key_values);
  const auto layers = out.past_key_values->to_legacy_cache();
  ASSERT_EQ(layers.size(), 2u);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    produced.emplace_back("past_key_values." + std::to_string(i) + ".0", layers[i].first);
    produced.emplace_back("past_key_values." + std::to_string(i) + ".1", layers[i].second);
  }
  for (const auto& [name, tensor] : produced) {
    const auto* entry = expected.header().find(name);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_TRUE(tensors_close(tensor.contiguous(), expected.tensor(*entry), 1e-5)) << cls << " " << name;
  }
  EXPECT_EQ(produced.size() + 2, expected.header().tensors.size());  // + input_ids, attention_mask
}

INSTANTIATE_TEST_SUITE_P(Classes, LlamaReference,
                         ::testing::Values("LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification"));

TEST(Llama, ParametersAndBuffersAreTransformers) {
  auto model = from_pretrained<LlamaForCausalLM>(data_path("llama/LlamaForCausalLM/ckpt"));
  // surgery/numbers.json: 24928 parameters (untied head), 21760 without embeddings.
  EXPECT_EQ(model->num_parameters(), 24928);
  EXPECT_EQ(model->num_parameters(false, /*exclude_embeddings=*/true), 21760);
  std::set<std::string> buffers;
  for (const auto& item : model->named_buffers()) {
    buffers.insert(item.key());
    EXPECT_EQ(item.value().scalar_type(), at::kFloat);
    EXPECT_EQ(item.value().sizes(), (std::vector<std::int64_t>{4}));
  }
  EXPECT_EQ(buffers, (std::set<std::string>{"model.layers.0.self_attn.rotary_emb.inv_freq",
                                            "model.layers.1.self_attn.rotary_emb.inv_freq",
                                            "model.rotary_emb.inv_freq"}));
  for (const auto& item : model->state_dict()) EXPECT_EQ(item.key().find("inv_freq"), std::string::npos);
  EXPECT_FALSE(model->lm_head->weight().is_same(model->model->embed_tokens->weight()));  // tie_word_embeddings false
  // GQA: 4 query heads over 2 key/value heads of 8.
  EXPECT_EQ(model->model->layers->operator[](0).self_attn->k_proj->weight().sizes(), (std::vector<std::int64_t>{16, 32}));
}

TEST(Llama, SequenceClassificationParameters) {
  auto model = from_pretrained<LlamaForSequenceClassification>(data_path("llama/LlamaForSequenceClassification/ckpt"));
  EXPECT_EQ(model->num_parameters(), 21856);
  EXPECT_EQ(model->config().num_labels(), 3);
}

TEST(Llama, ConfigRoundTripAndDerivedFields) {
  const auto ckpt = data_path("llama/LlamaForCausalLM/ckpt");
  auto python = nlohmann::json::parse(testing::read_file(ckpt / "config.json"));
  auto model = from_pretrained<LlamaForCausalLM>(ckpt);
  auto ours = model->config().to_diff_dict();
  for (auto* j : {&python, &ours}) {
    j->erase("transformers_version");
    j->erase("_name_or_path");
  }
  EXPECT_EQ(ours, python);
  // A config without head_dim / num_key_value_heads gets them as LlamaConfig derives them.
  auto config = PretrainedConfig::for_model_type("llama");
  config.update({{"hidden_size", 32}, {"num_attention_heads", 4}, {"num_hidden_layers", 1}, {"intermediate_size", 8},
                 {"vocab_size", 20}});
  auto derived = from_config<LlamaModel>(config);
  EXPECT_EQ(derived->config().get<std::int64_t>("head_dim"), 8);
  EXPECT_EQ(derived->config().get<std::int64_t>("num_key_value_heads"), 4);
}

PretrainedConfig tiny(const std::string& model_type, const json& extra = json::object()) {
  auto config = PretrainedConfig::for_model_type(model_type);
  config.update({{"hidden_size", 32}, {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"num_hidden_layers", 2},
                 {"intermediate_size", 48}, {"vocab_size", 40}, {"max_position_embeddings", 64}});
  config.update(extra);
  return config;
}

TEST(Llama, BiasesTiesAndHeadDimFromTheConfig) {
  auto biased = from_config<LlamaForCausalLM>(tiny("llama", {{"attention_bias", true}, {"mlp_bias", true}, {"head_dim", 16},
                                                             {"tie_word_embeddings", true}}));
  auto& attn = *(*biased->model->layers)[0].self_attn;
  EXPECT_NE(attn.q_proj->bias(), nullptr);
  EXPECT_NE(attn.o_proj->bias(), nullptr);
  EXPECT_NE((*biased->model->layers)[0].mlp->down_proj->bias(), nullptr);
  EXPECT_EQ(attn.q_proj->weight().sizes(), (std::vector<std::int64_t>{64, 32}));  // 4 heads x head_dim 16
  EXPECT_EQ(attn.o_proj->weight().sizes(), (std::vector<std::int64_t>{32, 64}));
  EXPECT_TRUE(biased->lm_head->weight().is_same(biased->model->embed_tokens->weight()));
  c10::NoGradGuard no_grad;
  ModelInputs inputs;
  inputs.input_ids = at::tensor({1, 5, 9, 3}, at::kLong).view({1, 4});
  EXPECT_EQ(biased->forward(inputs).logits().sizes(), (std::vector<std::int64_t>{1, 4, 40}));
}

TEST(Llama, RandomInitIsLlamas) {
  at::manual_seed(3);
  auto model = from_config<LlamaModel>(tiny("llama", {{"pad_token_id", 0}, {"initializer_range", 0.5}}));
  EXPECT_TRUE(model->embed_tokens->weight()[0].eq(0).all().item<bool>());  // padding row
  EXPECT_GT(model->embed_tokens->weight()[1].abs().sum().item<double>(), 0);
  EXPECT_TRUE(model->norm->weight().eq(1).all().item<bool>());
  EXPECT_NEAR((*model->layers)[1].mlp->up_proj->weight().std().item<double>(), 0.5, 0.05);
}

TEST(Llama, MistralAndQwen2ShapedCheckpoints) {
  // Qwen2: q/k/v biases, none on o_proj.
  auto qwen = from_config<Qwen2ForCausalLM>(tiny("qwen2"));
  auto& attn = *(*qwen->model->layers)[0].self_attn;
  EXPECT_NE(attn.q_proj->bias(), nullptr);
  EXPECT_NE(attn.v_proj->bias(), nullptr);
  EXPECT_EQ(attn.o_proj->bias(), nullptr);
  EXPECT_FALSE(qwen->model->sliding_window);
  EXPECT_EQ(qwen->class_info().name, "Qwen2ForCausalLM");
  testing::TempDir dir;
  qwen->save_pretrained(dir.path());
  auto loaded = AutoModelForCausalLM.from_pretrained(dir.path());
  EXPECT_EQ(loaded->class_info().name, "Qwen2ForCausalLM");
  c10::NoGradGuard no_grad;
  ModelInputs inputs;
  inputs.input_ids = at::tensor({1, 5, 9, 3, 7}, at::kLong).view({1, 5});
  // Not bit-equal: the reloaded weights are views of the mapped file, off 64-byte boundaries, and
  // the LM head's few-row kernel aligns its loads to the weight, which regroups the float32 sums.
  EXPECT_TRUE(tensors_close(loaded->forward(inputs).logits(), qwen->forward(inputs).logits(), 1e-6));
  EXPECT_EQ(AutoModel.from_pretrained(dir.path())->class_info().name, "Qwen2Model");

  // Mistral: keys further back than the window are hidden.
  auto mistral = from_config<MistralModel>(tiny("mistral", {{"sliding_window", 3}}));
  ASSERT_EQ(mistral->sliding_window.value_or(0), 3);
  ModelInputs sequence;
  sequence.input_ids = at::tensor({1, 5, 9, 3, 7, 2}, at::kLong).view({1, 6});
  sequence.output_attentions = true;
  const at::Tensor probs = mistral->forward(sequence).attentions()[1][0];  // [heads, 6, 6]
  for (std::int64_t i = 0; i < 6; ++i)
    for (std::int64_t j = 0; j < 6; ++j) {
      const bool visible = j <= i && j > i - 3;
      EXPECT_EQ(probs.select(1, i).select(1, j).gt(0).all().item<bool>(), visible) << i << "," << j;
    }
  EXPECT_EQ(PretrainedConfig::for_model_type("mistral").get<std::int64_t>("num_key_value_heads"), 8);
  EXPECT_EQ(AutoModelForCausalLM.from_config(tiny("mistral"))->class_info().name, "MistralForCausalLM");
}

// --- RoPE schedules ---

const nlohmann::json& rope_cases() {
  static const nlohmann::json data =
      nlohmann::json::parse(testing::read_file(data_path("llama/rope_reference.json")))["cases"];
  return data;
}

std::vector<std::string> rope_case_names() {
  std::vector<std::string> names;
  for (const auto& [name, value] : rope_cases().items()) names.push_back(name);
  return names;
}

PretrainedConfig rope_config(const nlohmann::json& fields) {
  auto config = PretrainedConfig::for_model_type("llama");
  config.update(fields);
  return config;
}

at::Tensor as_tensor(const nlohmann::json& values) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble);
}

class RopeSchedules : public ::testing::TestWithParam<std::string> {};

TEST_P(RopeSchedules, InverseFrequenciesEqualTheFormulas) {
  const auto& c = rope_cases()[GetParam()];
  const PretrainedConfig config = rope_config(c["config"]);
  validate_rope_scaling(config);
  const RopeParameters p = compute_rope_parameters(config);
  EXPECT_EQ(p.inv_freq.scalar_type(), at::kFloat);
  const at::Tensor expected = as_tensor(c["inv_freq"]);
  ASSERT_EQ(p.inv_freq.sizes(), expected.sizes());
  // float32 against float64: a few ulps.
  EXPECT_TRUE(at::allclose(p.inv_freq.to(at::kDouble), expected, 2e-6, 0)) << p.inv_freq << expected;
  EXPECT_NEAR(p.attention_scaling, c["attention_scaling"].get<double>(), 1e-12);
  if (c.contains("seq_len")) {
    const RopeParameters grown = compute_rope_parameters(config, c["seq_len"].get<std::int64_t>());
    EXPECT_TRUE(at::allclose(grown.inv_freq.to(at::kDouble), as_tensor(c["inv_freq_at_seq_len"]), 2e-6, 0));
  }
}

INSTANTIATE_TEST_SUITE_P(Types, RopeSchedules, ::testing::ValuesIn(rope_case_names()));

TEST(Rope, CosAndSinCarryTheAttentionScaling) {
  const auto& c = rope_cases()["yarn"];
  RotaryEmbedding rope(rope_config(c["config"]));
  EXPECT_EQ(rope.type(), "yarn");
  const at::Tensor positions = at::tensor({0, 3, 100}, at::kLong).view({1, 3});
  const auto [cos, sin] = rope.forward(positions, at::kFloat);
  ASSERT_EQ(cos.sizes(), (std::vector<std::int64_t>{1, 3, 16}));
  const at::Tensor inv = as_tensor(c["inv_freq"]);
  const double scale = c["attention_scaling"].get<double>();
  for (std::int64_t p = 0; p < 3; ++p) {
    const double position = positions[0][p].item<double>();
    const at::Tensor angles = at::cat({inv, inv}) * position;
    EXPECT_TRUE(at::allclose(cos[0][p].to(at::kDouble), angles.cos() * scale, 0, 5e-5));
    EXPECT_TRUE(at::allclose(sin[0][p].to(at::kDouble), angles.sin() * scale, 0, 5e-5));
  }
}

// A decoding step's few positions take a loop instead of the tensor ops; both give the same cos
// and sin (to the last float32 bit but for the libraries' own cosine, and after bfloat16 rounding).
TEST(Rope, FewPositionsMatchTheTensorPathForEveryType) {
  for (const std::string& name : rope_case_names()) {
    const PretrainedConfig config = rope_config(rope_cases()[name]["config"]);  // the module keeps a pointer
    RotaryEmbedding rope(config);
    const at::Tensor many = at::arange(1000, 1016, at::kLong).view({2, 8}).t().contiguous().view({1, 16});  // tensor path
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      const auto [cos_many, sin_many] = rope.forward(many, dtype);
      for (std::int64_t i : {0, 5, 15}) {
        if (name == "dynamic" && i != 15) continue;  // its frequencies follow the largest position
        const at::Tensor one = many.narrow(1, i, 1).contiguous();
        const auto [cos, sin] = rope.forward(one, dtype);
        ASSERT_EQ(cos.scalar_type(), dtype);
        ASSERT_EQ(cos.sizes(), (std::vector<std::int64_t>{1, 1, cos_many.size(-1)}));
        const double tolerance = dtype == at::kFloat ? 1e-6 : 0.0;
        EXPECT_TRUE(at::allclose(cos.to(at::kDouble), cos_many.narrow(1, i, 1).to(at::kDouble), 0, tolerance))
            << name << " position " << many[0][i].item<std::int64_t>() << " " << dtype;
        EXPECT_TRUE(at::allclose(sin.to(at::kDouble), sin_many.narrow(1, i, 1).to(at::kDouble), 0, tolerance))
            << name << " position " << many[0][i].item<std::int64_t>() << " " << dtype;
      }
    }
  }
}

TEST(Rope, DynamicScalingGrowsWithTheSequenceAndComesBack) {
  const auto& c = rope_cases()["dynamic"];
  const PretrainedConfig config = rope_config(c["config"]);
  RotaryEmbedding rope(config);
  const at::Tensor original = rope.inv_freq().clone();
  rope.forward(at::arange(300, at::kLong).unsqueeze(0), at::kFloat);  // positions up to 299: seq_len 300
  EXPECT_TRUE(at::allclose(rope.inv_freq().to(at::kDouble), as_tensor(c["inv_freq_at_seq_len"]), 2e-6, 0));
  rope.forward(at::arange(10, at::kLong).unsqueeze(0), at::kFloat);
  EXPECT_TRUE(rope.inv_freq().equal(original));
}

TEST(Rope, RotateHalfAndApply) {
  const at::Tensor x = at::arange(8, at::kFloat).view({1, 1, 1, 8});
  EXPECT_TRUE(rotate_half(x).equal(at::tensor({-4.f, -5.f, -6.f, -7.f, 0.f, 1.f, 2.f, 3.f}).view({1, 1, 1, 8})));
  // A quarter turn on every pair: (x1, x2) -> (-x2, x1).
  const at::Tensor cos = at::zeros({1, 1, 8});
  const at::Tensor sin = at::ones({1, 1, 8});
  auto [q, k] = apply_rotary_pos_emb(x, x, cos, sin);
  EXPECT_TRUE(q.equal(rotate_half(x)));
}

TEST(Rope, ConfigErrorsNameWhatIsMissing) {
  auto missing = rope_config({{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}});
  try {
    validate_rope_scaling(missing);
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("low_freq_factor"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rope_type(rope_config({{"rope_scaling", {{"rope_type", "spiral"}}}})), ValueError);
  EXPECT_THROW(validate_rope_scaling(rope_config({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 0.5}}}})),
               ValueError);
  // Legacy {"type": ...} configs also get "rope_type", as LlamaConfig adds it.
  auto legacy = tiny("llama", {{"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}});
  auto model = from_config<LlamaModel>(legacy);
  EXPECT_EQ(model->config().at("rope_scaling")["rope_type"], "linear");
  EXPECT_EQ(model->rotary_emb->type(), "linear");
}

}  // namespace
}  // namespace hfcpp
