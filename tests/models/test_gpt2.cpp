// GPT-2 against the outputs Python Transformers recorded (tests/data/gpt2, from shared/fixtures).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/modeling/sequence_summary.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::reference_tensor;
using testing::tensors_close;

// Every output (past_key_values as past_key_values.<layer>.<0|1>) against the reference file;
// returns how many were compared, after checking that the reference has no others.
int expect_outputs_equal_reference(const ModelOutput& out, const std::filesystem::path& reference,
                                   const std::set<std::string>& inputs) {
  const auto expected = SafetensorsFile::open(reference);
  auto produced = out.flatten();
  if (out.past_key_values) {
    const auto layers = out.past_key_values->to_legacy_cache();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      produced.emplace_back("past_key_values." + std::to_string(i) + ".0", layers[i].first);
      produced.emplace_back("past_key_values." + std::to_string(i) + ".1", layers[i].second);
    }
  }
  int compared = 0;
  for (const auto& [name, tensor] : produced) {
    const auto* entry = expected.header().find(name);
    EXPECT_NE(entry, nullptr) << name << " has no reference";
    if (entry == nullptr) continue;
    EXPECT_TRUE(tensors_close(tensor.contiguous(), expected.tensor(*entry), 1e-5)) << name;
    ++compared;
  }
  int references = 0;
  for (const auto& entry : expected.header().tensors) references += inputs.count(entry.name) ? 0 : 1;
  EXPECT_EQ(compared, references);
  return compared;
}

ModelInputs reference_inputs(const std::filesystem::path& reference, bool multiple_choice = false) {
  ModelInputs inputs;
  inputs.input_ids = reference_tensor(reference, "input_ids");
  inputs.attention_mask = reference_tensor(reference, "attention_mask");
  if (multiple_choice) inputs.mc_token_ids = reference_tensor(reference, "mc_token_ids");
  inputs.output_attentions = true;
  inputs.output_hidden_states = true;
  return inputs;
}

class GPT2Reference : public ::testing::TestWithParam<std::string> {};

TEST_P(GPT2Reference, EveryOutputEqualsTransformers) {
  const std::string cls = GetParam();
  const auto folder = data_path("gpt2/" + cls);
  LoadingInfo info;
  auto model = load_model_class(cls, folder / "ckpt", {}, &info);
  EXPECT_TRUE(info.missing_keys.empty()) << ::testing::PrintToString(info.missing_keys);
  EXPECT_TRUE(info.unexpected_keys.empty()) << ::testing::PrintToString(info.unexpected_keys);
  EXPECT_EQ(model->class_info().name, cls);
  c10::NoGradGuard no_grad;
  const bool mc = cls == "GPT2DoubleHeadsModel";
  const ModelOutput out = model->forward(reference_inputs(folder / "reference.safetensors", mc));
  const int compared = expect_outputs_equal_reference(out, folder / "reference.safetensors",
                                                      {"input_ids", "attention_mask", "mc_token_ids"});
  EXPECT_EQ(compared, 4 + 2 + 3 + (mc ? 2 : 1));  // past k/v, attentions, hidden states, heads
}

INSTANTIATE_TEST_SUITE_P(Classes, GPT2Reference,
                         ::testing::Values("GPT2Model", "GPT2LMHeadModel", "GPT2DoubleHeadsModel"));

TEST(GPT2, LMHeadIsTiedToTheTokenEmbeddings) {
  auto model = from_pretrained<GPT2LMHeadModel>(data_path("gpt2/GPT2LMHeadModel/ckpt"));
  EXPECT_TRUE(model->lm_head->weight().is_same(model->transformer->wte->weight()));
  EXPECT_EQ(model->class_info().tied_weights_keys, std::vector<std::string>{"lm_head.weight"});
  // Python's named_parameters lists the tied weight once: 30688 parameters (surgery/numbers.json).
  EXPECT_EQ(model->num_parameters(), 30688);
  EXPECT_EQ(model->num_parameters(false, /*exclude_embeddings=*/true), 25472);
  EXPECT_TRUE(model->can_generate());
}

TEST(GPT2, BuffersAreTransformers) {
  auto model = from_pretrained<GPT2DoubleHeadsModel>(data_path("gpt2/GPT2DoubleHeadsModel/ckpt"));
  EXPECT_EQ(model->num_parameters(), 30721);
  std::map<std::string, std::pair<c10::ScalarType, std::vector<std::int64_t>>> buffers;
  for (const auto& item : model->named_buffers()) buffers[item.key()] = {item.value().scalar_type(), item.value().sizes().vec()};
  ASSERT_EQ(buffers.size(), 4u);
  for (const std::string layer : {"0", "1"}) {
    const auto& bias = buffers.at("transformer.h." + layer + ".attn.bias");
    EXPECT_EQ(bias.first, at::kBool);
    EXPECT_EQ(bias.second, (std::vector<std::int64_t>{1, 1, 64, 64}));
    const auto& masked = buffers.at("transformer.h." + layer + ".attn.masked_bias");
    EXPECT_EQ(masked.first, at::kFloat);
    EXPECT_TRUE(masked.second.empty());
  }
  // Non-persistent: not in the state dict, so not saved.
  for (const auto& item : model->state_dict()) {
    EXPECT_EQ(item.key().find(".attn.bias"), std::string::npos) << item.key();
    EXPECT_EQ(item.key().find(".attn.masked_bias"), std::string::npos) << item.key();
  }
  const at::Tensor bias = model->transformer->h->operator[](0).attn->buffer("bias");
  EXPECT_TRUE(bias[0][0].equal(at::ones({64, 64}, at::kBool).tril()));
}

TEST(GPT2, DoubleHeadsModelSetsOneLabelWhichIsSaved) {
  auto config = std::make_shared<PretrainedConfig>(PretrainedConfig::from_pretrained(data_path("gpt2/GPT2Model/ckpt")));
  config->set_num_labels(3);
  GPT2DoubleHeadsModel model(config);
  EXPECT_EQ(model.config().num_labels(), 1);
  EXPECT_EQ(model.multiple_choice_head->summary->weight().size(0), 1);
  auto base = from_pretrained<GPT2Model>(data_path("gpt2/GPT2DoubleHeadsModel/ckpt"));
  EXPECT_EQ(base->config().num_labels(), 1);
}

TEST(GPT2, ConfigDefaultsAndAttributeMap) {
  const PretrainedConfig defaults = PretrainedConfig::for_model_type("gpt2");
  EXPECT_EQ(defaults.hidden_size(), 768);
  EXPECT_EQ(defaults.num_hidden_layers(), 12);
  EXPECT_EQ(defaults.num_attention_heads(), 12);
  EXPECT_EQ(defaults.get<std::int64_t>("max_position_embeddings"), 1024);
  EXPECT_EQ(defaults.vocab_size(), 50257);
  EXPECT_EQ(defaults.get<std::string>("activation_function"), "gelu_new");
  EXPECT_EQ(*defaults.bos_token_id(), 50256);
  // A loaded config writes back what Python wrote (apart from the version).
  const auto ckpt = data_path("gpt2/GPT2LMHeadModel/ckpt");
  auto python = nlohmann::json::parse(testing::read_file(ckpt / "config.json"));
  auto ours = PretrainedConfig::from_pretrained(ckpt).to_diff_dict();
  python.erase("transformers_version");
  ours.erase("transformers_version");
  EXPECT_EQ(ours, python);
}

TEST(GPT2, SavedCheckpointEqualsPythonsBytes) {
  const auto ckpt = data_path("gpt2/GPT2LMHeadModel/ckpt");
  auto model = from_pretrained<GPT2LMHeadModel>(ckpt);
  testing::TempDir dir;
  model->save_pretrained(dir.path());
  // lm_head.weight is tied and dropped, as Transformers drops it.
  EXPECT_TRUE(testing::read_file(dir / "model.safetensors") == testing::read_file(ckpt / "model.safetensors"));
}

TEST(GPT2, SequenceClassificationPoolsTheTokenBeforeTheFirstPad) {
  at::manual_seed(0);
  auto model = from_pretrained<GPT2ForSequenceClassification>(data_path("gpt2/GPT2Model/ckpt"),
                                                              {.config_overrides = {{"num_labels", 3}}});
  const std::int64_t pad = 98;
  // Row 0: no pad (last token). Row 1: left-padded (argmax 0 -> -1 -> last). Row 2: right-padded
  // after 3 tokens (index 2).
  ModelInputs inputs;
  inputs.input_ids = at::tensor(std::vector<std::int64_t>{5, 17, 42, 8, 63, pad, pad, 33, 7, 71, 12, 55, 7, pad, pad}, at::kLong).view({3, 5});
  inputs.attention_mask = inputs.input_ids.ne(pad).to(at::kLong);
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(inputs);
  ModelInputs base_inputs;
  base_inputs.input_ids = inputs.input_ids;
  base_inputs.attention_mask = inputs.attention_mask;
  const at::Tensor hidden = model->transformer->forward(base_inputs).last_hidden_state();
  const at::Tensor all_logits = model->score->forward(hidden);
  ASSERT_EQ(out.logits().sizes(), (std::vector<std::int64_t>{3, 3}));
  EXPECT_TRUE(tensors_close(out.logits()[0], all_logits[0][4], 0));
  EXPECT_TRUE(tensors_close(out.logits()[1], all_logits[1][4], 0));
  EXPECT_TRUE(tensors_close(out.logits()[2], all_logits[2][2], 0));
  // Loss as Transformers computes it (single-label classification).
  inputs.labels = at::tensor({0, 2, 1}, at::kLong);
  const at::Tensor loss = model->forward(inputs).loss();
  EXPECT_TRUE(tensors_close(loss, at::cross_entropy_loss(out.logits(), inputs.labels), 1e-6));
}

TEST(GPT2, SequenceClassificationWithoutPadIdNeedsBatchOne) {
  auto config = PretrainedConfig::for_model_type("gpt2");
  config.update({{"n_embd", 16}, {"n_layer", 1}, {"n_head", 2}, {"vocab_size", 50}, {"n_positions", 16}});
  auto model = from_config<GPT2ForSequenceClassification>(config);
  ModelInputs inputs;
  inputs.input_ids = at::ones({2, 4}, at::kLong);
  EXPECT_THROW(model->forward(inputs), ValueError);
}

// Recomputes layer 1's attention probabilities by hand from its input hidden state.
at::Tensor attention_by_hand(GPT2Model& model, const at::Tensor& layer_input, const at::Tensor& mask, double divisor) {
  auto& block = (*model.h)[1];
  const at::Tensor qkv = block.attn->c_attn->forward(block.ln_1->forward(layer_input));
  auto split = [&](int i) { return qkv.narrow(-1, i * 32, 32).view({2, 7, 4, 8}).permute({0, 2, 1, 3}); };
  at::Tensor scores = at::matmul(split(0), split(1).transpose(-1, -2)) / divisor;
  const float lowest = std::numeric_limits<float>::lowest();
  scores = scores.masked_fill(at::ones({7, 7}, at::kBool).tril().logical_not(), lowest);
  scores = scores + (1 - mask.to(at::kFloat)).view({2, 1, 1, 7}) * lowest;
  return at::softmax(scores, -1);
}

TEST(GPT2, AttentionScalingKnobs) {
  const auto ckpt = data_path("gpt2/GPT2Model/ckpt");
  const auto reference = data_path("gpt2/GPT2Model/reference.safetensors");
  c10::NoGradGuard no_grad;
  for (const bool by_layer : {false, true}) {
    for (const bool scaled : {false, true}) {
      auto model = from_pretrained<GPT2Model>(
          ckpt, {.config_overrides = {{"scale_attn_weights", scaled}, {"scale_attn_by_inverse_layer_idx", by_layer}}});
      const ModelOutput out = model->forward(reference_inputs(reference));
      const double divisor = (scaled ? std::sqrt(8.0) : 1.0) * (by_layer ? 2.0 : 1.0);
      const at::Tensor expected = attention_by_hand(*model, out.hidden_states()[1], reference_tensor(reference, "attention_mask"), divisor);
      // Only real query rows: padded rows attend to everything equally in both.
      EXPECT_TRUE(tensors_close(out.attentions()[1][0], expected[0], 1e-5)) << scaled << by_layer;
      EXPECT_TRUE(tensors_close(out.attentions()[1][1].narrow(1, 2, 5), expected[1].narrow(1, 2, 5), 1e-5));
    }
  }
}

TEST(GPT2, ReorderAndUpcastAttentionComputesTheSameInFloat32) {
  const auto folder = data_path("gpt2/GPT2LMHeadModel");
  auto model = from_pretrained<GPT2LMHeadModel>(folder / "ckpt", {.config_overrides = {{"reorder_and_upcast_attn", true}}});
  EXPECT_TRUE(model->transformer->h->operator[](0).attn->reorder_and_upcast_attn);
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(reference_inputs(folder / "reference.safetensors"));
  EXPECT_TRUE(tensors_close(out.logits(), reference_tensor(folder / "reference.safetensors", "logits"), 1e-5));
}

TEST(GPT2, InnerSizeAndActivationFromTheConfig) {
  auto config = PretrainedConfig::for_model_type("gpt2");
  config.update({{"n_embd", 16}, {"n_layer", 2}, {"n_head", 2}, {"vocab_size", 50}, {"n_positions", 16},
                 {"n_inner", 24}, {"activation_function", "relu"}, {"layer_norm_epsilon", 1e-3}});
  auto model = from_config<GPT2Model>(config);
  model->eval();  // built in training mode, as in Python: dropout would be active
  auto& mlp = *(*model->h)[0].mlp;
  EXPECT_EQ(mlp.c_fc->weight().sizes(), (std::vector<std::int64_t>{16, 24}));
  EXPECT_EQ((*model->h)[0].ln_1->eps, 1e-3);
  const at::Tensor x = at::randn({1, 3, 16});
  c10::NoGradGuard no_grad;
  const at::Tensor expected = at::matmul(at::relu(at::matmul(x, mlp.c_fc->weight()) + *mlp.c_fc->bias()),
                                         mlp.c_proj->weight()) + *mlp.c_proj->bias();
  EXPECT_TRUE(tensors_close(mlp.forward(x), expected, 1e-5));
}

TEST(GPT2, RandomInitScalesResidualProjections) {
  auto config = PretrainedConfig::for_model_type("gpt2");
  config.update({{"n_embd", 64}, {"n_layer", 8}, {"n_head", 4}, {"vocab_size", 50}, {"n_positions", 16}});
  at::manual_seed(7);
  auto model = from_config<GPT2Model>(config);
  // normal(0, 0.02) everywhere, but c_proj.weight (attention and MLP) normal(0, 0.02 / sqrt(16)).
  const double attn_proj = (*model->h)[3].attn->c_proj->weight().std().item<double>();
  const double mlp_proj = (*model->h)[3].mlp->c_proj->weight().std().item<double>();
  const double fc = (*model->h)[3].mlp->c_fc->weight().std().item<double>();
  EXPECT_NEAR(attn_proj, 0.005, 0.0003);
  EXPECT_NEAR(mlp_proj, 0.005, 0.0003);
  EXPECT_NEAR(fc, 0.02, 0.001);
  EXPECT_TRUE((*model->h)[3].ln_1->param("weight").eq(1).all().item<bool>());
  EXPECT_TRUE((*model->h)[3].attn->c_attn->bias()->eq(0).all().item<bool>());
}

TEST(GPT2, MissingInputsAreErrors) {
  auto model = from_pretrained<GPT2Model>(data_path("gpt2/GPT2Model/ckpt"));
  EXPECT_THROW(model->forward({}), ValueError);
  ModelInputs too_long;
  too_long.input_ids = at::zeros({1, 65}, at::kLong);
  EXPECT_THROW(model->forward(too_long), ValueError);  // n_positions is 64
}

// --- SequenceSummary against Transformers' (utils/sequence_summary.safetensors) ---

class SequenceSummaryCases : public ::testing::TestWithParam<std::string> {};

TEST_P(SequenceSummaryCases, OutputEqualsTransformers) {
  const std::string name = GetParam();
  const auto file = data_path("gpt2/sequence_summary.safetensors");
  const bool proj_to_labels = name != "first_proj_to_hidden_no_activation";
  std::string type = name;
  if (name == "cls_index_default") type = "cls_index";
  if (name == "first_proj_to_hidden_no_activation") type = "first";
  PretrainedConfig config;
  config.set("hidden_size", 32);
  config.set_num_labels(3);
  config.set("summary_use_proj", true);
  config.set("summary_activation", proj_to_labels ? json("tanh") : json(nullptr));
  config.set("summary_proj_to_labels", proj_to_labels);
  config.set("summary_type", type);
  SequenceSummary summary(config);
  summary.summary->set_param("weight", reference_tensor(file, name + ".weights.summary.weight"));
  summary.summary->set_param("bias", reference_tensor(file, name + ".weights.summary.bias"));
  summary.eval();
  const at::Tensor hidden = reference_tensor(file, "inputs.hidden_states");
  const at::Tensor cls_index = name == "cls_index" ? reference_tensor(file, "inputs.cls_index") : at::Tensor();
  c10::NoGradGuard no_grad;
  EXPECT_TRUE(tensors_close(summary.forward(hidden, cls_index), reference_tensor(file, name + ".output"), 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Cases, SequenceSummaryCases,
                         ::testing::Values("last", "first", "mean", "cls_index", "cls_index_default",
                                           "first_proj_to_hidden_no_activation"));

TEST(SequenceSummaryConfig, AttnTypeIsNotImplemented) {
  PretrainedConfig config;
  config.set("hidden_size", 8);
  config.set("summary_type", "attn");
  EXPECT_THROW(SequenceSummary{config}, UnsupportedError);
}

}  // namespace
}  // namespace hfcpp
