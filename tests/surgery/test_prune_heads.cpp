// prune_heads against surgery/prune_heads.json (BertModel, {0: [0, 2], 1: [1]}), the checkpoint
// Python saved after pruning (surgery/pruned_ckpt), and for GPT-2 against the equivalent head
// mask: a pruned head contributes exactly what a masked head does, nothing.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/models/llama.h"
#include "test_support.h"

namespace {

using namespace hfcpp;
using hfcpp::testing::data_path;
using hfcpp::testing::reference_tensor;
using hfcpp::testing::tensors_close;
using hfcpp::testing::tensors_equal;
using Heads = PreTrainedModel::HeadsToPrune;

at::Tensor fixture(const std::string& name) { return reference_tensor(data_path("surgery/prune_heads.safetensors"), name); }

ModelInputs bert_inputs() {
  return {.input_ids = fixture("input_ids"), .attention_mask = fixture("attention_mask"),
          .token_type_ids = fixture("token_type_ids"), .output_attentions = true, .output_hidden_states = true};
}

std::vector<std::pair<std::string, at::Tensor>> run(PreTrainedModel& model, const ModelInputs& inputs) {
  c10::NoGradGuard no_grad;
  return model.forward(inputs).flatten();
}

// Every output field equals the fixture's `prefix.<field>`, and no field is missing or extra.
void expect_outputs(const std::vector<std::pair<std::string, at::Tensor>>& outputs, const std::string& prefix) {
  SafetensorsFile file = SafetensorsFile::open(data_path("surgery/prune_heads.safetensors"));
  std::size_t expected_count = 0;
  for (const auto& entry : file.header().tensors) expected_count += entry.name.rfind(prefix + ".", 0) == 0;
  EXPECT_EQ(outputs.size(), expected_count);
  for (const auto& [name, tensor] : outputs)
    EXPECT_TRUE(tensors_close(tensor, file.tensor(prefix + "." + name), 1e-5)) << prefix << "." << name;
}

Heads heads_from_json(const nlohmann::json& j) {
  Heads heads;
  for (const auto& [layer, list] : j.items()) heads[std::stoll(layer)] = list.get<std::vector<std::int64_t>>();
  return heads;
}

TEST(PruneHeads, BertModelEqualsTransformers) {
  const auto expected = nlohmann::json::parse(hfcpp::testing::read_file(data_path("surgery/prune_heads.json")));
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  model->prune_heads(heads_from_json(expected["heads_to_prune"]));
  EXPECT_EQ(model->config().pruned_heads(), heads_from_json(expected["config_pruned_heads_in_memory"]));
  for (const auto& [key, shape] : expected["query_weight_shapes"].items())
    EXPECT_EQ(nn::find_tensor(*model, key).sizes().vec(), shape.get<std::vector<std::int64_t>>()) << key;
  const auto pruned = run(*model, bert_inputs());
  expect_outputs(pruned, "pruned");

  // Saved with config.pruned_heads, reloaded pruned, with nothing missing or unexpected.
  hfcpp::testing::TempDir dir;
  model->save_pretrained(dir.path());
  const auto saved = nlohmann::json::parse(hfcpp::testing::read_file(dir / "config.json"));
  EXPECT_EQ(saved["pruned_heads"], expected["config_pruned_heads_saved"]);
  LoadingInfo info;
  logging::LogCapture capture(logging::Level::kWarning);
  auto reloaded = from_pretrained<BertModel>(dir.path(), {}, &info);
  EXPECT_TRUE(capture.messages(logging::Level::kWarning).empty());
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());
  const auto again = run(*reloaded, bert_inputs());
  ASSERT_EQ(again.size(), pruned.size());
  for (std::size_t i = 0; i < again.size(); ++i) EXPECT_TRUE(tensors_equal(again[i].second, pruned[i].second));
  expect_outputs(again, "reloaded");
}

TEST(PruneHeads, PythonsPrunedCheckpointLoads) {
  LoadingInfo info;
  logging::LogCapture capture(logging::Level::kWarning);
  auto model = from_pretrained<BertModel>(data_path("surgery/pruned_ckpt"), {}, &info);
  EXPECT_TRUE(capture.messages(logging::Level::kWarning).empty());
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());
  EXPECT_EQ(model->config().pruned_heads(), (Heads{{0, {0, 2}}, {1, {1}}}));
  EXPECT_EQ(model->encoder->layer->operator[](0).attention->self_attention->num_attention_heads, 2);
  EXPECT_EQ(model->encoder->layer->operator[](1).attention->pruned_heads, (std::set<std::int64_t>{1}));
  expect_outputs(run(*model, bert_inputs()), "reloaded");
  // A head model built on the pruned config prunes its base too (once, though both post_init).
  auto masked_lm = from_pretrained<BertForMaskedLM>(data_path("surgery/pruned_ckpt"), {}, &info);
  EXPECT_EQ(nn::find_tensor(*masked_lm, "bert.encoder.layer.1.attention.self.key.weight").size(0), 24);
}

TEST(PruneHeads, LaterPruningsMergeAndCountFromTheOriginalHeads) {
  auto once = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  once->prune_heads({{0, {0, 2}}, {1, {1}}});
  auto stepwise = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  stepwise->prune_heads({{0, {2}}});
  stepwise->prune_heads({{0, {0, 2}}, {1, {1}}});  // 2 again: ignored; 0 is still head 0
  EXPECT_EQ(stepwise->config().pruned_heads(), (Heads{{0, {0, 2}}, {1, {1}}}));
  const auto a = run(*once, bert_inputs());
  const auto b = run(*stepwise, bert_inputs());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(tensors_equal(b[i].second, a[i].second)) << a[i].first;
  expect_outputs(b, "pruned");
}

// The last hidden state with `heads` pruned equals the unpruned model's with those heads masked.
template <typename Model>
void expect_pruning_equals_head_mask(const std::string& ckpt, const Heads& heads, std::int64_t layers,
                                     std::int64_t num_heads, const ModelInputs& base_inputs) {
  auto full = from_pretrained<Model>(data_path(ckpt), {.attn_implementation = "eager"});
  auto pruned = from_pretrained<Model>(data_path(ckpt), {.attn_implementation = "eager"});
  pruned->prune_heads(heads);
  at::Tensor mask = at::ones({layers, num_heads});
  for (const auto& [layer, list] : heads)
    for (auto head : list) mask[layer][head] = 0;
  ModelInputs masked = base_inputs;
  masked.head_mask = mask;
  const at::Tensor expected = run(*full, masked)[0].second;
  const auto outputs = run(*pruned, base_inputs);
  EXPECT_EQ(outputs[0].first, "last_hidden_state");
  EXPECT_TRUE(tensors_close(outputs[0].second, expected, 1e-5));
}

ModelInputs gpt2_inputs() {
  return {.input_ids = at::tensor({5, 17, 42, 8, 63, 21, 77, 98, 98, 33, 7, 71, 12, 55}, at::kLong).view({2, 7}),
          .attention_mask = at::tensor({1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, at::kLong).view({2, 7}),
          .use_cache = false};
}

TEST(PruneHeads, GPT2EqualsTheHeadMask) {
  expect_pruning_equals_head_mask<GPT2Model>("gpt2/GPT2Model/ckpt", {{0, {1, 3}}, {1, {0}}}, 2, 4, gpt2_inputs());
  // Every head of a layer: the attention block adds only c_proj's bias.
  expect_pruning_equals_head_mask<GPT2Model>("gpt2/GPT2Model/ckpt", {{1, {0, 1, 2, 3}}}, 2, 4, gpt2_inputs());
}

TEST(PruneHeads, BertEqualsTheHeadMaskEvenForAWholeLayer) {
  ModelInputs inputs = bert_inputs();
  inputs.output_attentions = false;
  inputs.output_hidden_states = false;
  expect_pruning_equals_head_mask<BertModel>("bert/BertModel/ckpt", {{0, {3}}, {1, {0, 1, 2, 3}}}, 2, 4, inputs);
}

TEST(PruneHeads, GPT2ShapesSaveAndReload) {
  auto model = from_pretrained<GPT2LMHeadModel>(data_path("gpt2/GPT2LMHeadModel/ckpt"), {.attn_implementation = "eager"});
  model->prune_heads({{0, {1, 3}}, {1, {0}}});
  auto& attn = *(*model->transformer->h)[0].attn;
  EXPECT_EQ(attn.num_heads, 2);
  EXPECT_EQ(attn.c_attn->weight().sizes().vec(), (std::vector<std::int64_t>{32, 48}));
  EXPECT_EQ(attn.c_attn->bias()->size(0), 48);
  EXPECT_EQ(attn.c_proj->weight().sizes().vec(), (std::vector<std::int64_t>{16, 32}));
  EXPECT_EQ(attn.c_proj->bias()->size(0), 32);
  EXPECT_EQ(model->config().pruned_heads(), (Heads{{0, {1, 3}}, {1, {0}}}));
  const ModelInputs inputs = gpt2_inputs();
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(inputs).logits();

  hfcpp::testing::TempDir dir;
  model->save_pretrained(dir.path());
  LoadingInfo info;
  auto reloaded = from_pretrained<GPT2LMHeadModel>(dir.path(), {.attn_implementation = "eager"}, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());
  EXPECT_TRUE(tensors_equal(reloaded->forward(inputs).logits(), logits));
  // Pruning again after the reload counts from the original heads: head 2 of layer 0.
  reloaded->prune_heads({{0, {2}}});
  EXPECT_EQ(reloaded->config().pruned_heads(), (Heads{{0, {1, 2, 3}}, {1, {0}}}));
  EXPECT_EQ((*reloaded->transformer->h)[0].attn->num_heads, 1);
}

TEST(PruneHeads, BadRequestsAreRefused) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  EXPECT_THROW(model->prune_heads({{0, {4}}}), ValueError);
  EXPECT_THROW(model->prune_heads({{2, {0}}}), ValueError);
  EXPECT_TRUE(model->config().pruned_heads().empty());
  auto llama = from_pretrained<LlamaModel>(data_path("llama/LlamaModel/ckpt"));
  EXPECT_THROW(llama->prune_heads({{0, {0}}}), UnsupportedError);
}

}  // namespace
