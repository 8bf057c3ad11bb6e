// Gradient checkpointing: the layers run again in the backward pass (counted by a hook) and the
// gradients equal those of an ordinary run, dropout included; enable_input_require_grads.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <map>

#include "hfcpp/error.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/models/gpt2.h"
#include "hfcpp/models/llama.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

std::map<std::string, at::Tensor> gradients(PreTrainedModel& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model.named_parameters())
    if (item.value().grad().defined()) out[item.key()] = item.value().grad().clone();
  return out;
}

void zero_gradients(PreTrainedModel& model) {
  for (auto& p : model.parameters())
    if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

// Runs forward + backward with the RNG seeded; returns the loss and fills `grads`.
at::Tensor train_step(PreTrainedModel& model, const ModelInputs& inputs, std::map<std::string, at::Tensor>& grads) {
  zero_gradients(model);
  at::manual_seed(1234);
  const ModelOutput out = model.forward(inputs);
  at::Tensor loss = out.has("loss") ? out.loss() : out.last_hidden_state().pow(2).sum();
  if (out.has("attentions"))  // weighted, so the attention outputs carry a gradient of their own
    for (const at::Tensor& a : out.attentions()) loss = loss + (a * at::linspace(0, 1, a.size(-1))).sum();
  loss.backward();
  grads = gradients(model);
  return loss.detach();
}

void expect_same_gradients(const std::map<std::string, at::Tensor>& plain,
                           const std::map<std::string, at::Tensor>& checkpointed) {
  ASSERT_EQ(plain.size(), checkpointed.size());
  for (const auto& [name, grad] : plain) {
    ASSERT_TRUE(checkpointed.count(name)) << name;
    EXPECT_TRUE(testing::tensors_close(checkpointed.at(name), grad, 1e-6)) << name;
  }
}

ModelInputs bert_inputs(bool attentions) {
  const auto reference = data_path("bert/BertModel/reference.safetensors");
  ModelInputs inputs;
  inputs.input_ids = testing::reference_tensor(reference, "input_ids");
  inputs.attention_mask = testing::reference_tensor(reference, "attention_mask");
  inputs.token_type_ids = testing::reference_tensor(reference, "token_type_ids");
  inputs.output_attentions = attentions;
  return inputs;
}

TEST(GradientCheckpointing, EnableDisableAndIsGradientCheckpointing) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  EXPECT_FALSE(model->is_gradient_checkpointing());
  model->gradient_checkpointing_enable();
  EXPECT_TRUE(model->is_gradient_checkpointing());
  EXPECT_TRUE(model->bert->encoder->gradient_checkpointing);
  EXPECT_TRUE(model->bert->is_gradient_checkpointing());
  model->gradient_checkpointing_disable();
  EXPECT_FALSE(model->is_gradient_checkpointing());
  EXPECT_FALSE(model->bert->encoder->gradient_checkpointing);
}

// A model class that does not declare support (Transformers raises ValueError for it).
class NoCheckpointing : public PreTrainedModel {
 public:
  static const ModelClassInfo& class_info() {
    static const ModelClassInfo info = [] {
      ModelClassInfo i;
      i.name = "NoCheckpointing";
      return i;
    }();
    return info;
  }
  explicit NoCheckpointing(std::shared_ptr<PretrainedConfig> config) : PreTrainedModel(std::move(config), class_info()) {}
  ModelOutput forward(const ModelInputs&) override { return {}; }
  void init_module_weights(torch::nn::Module&) override {}
};

TEST(GradientCheckpointing, UnsupportedClassIsAValueError) {
  NoCheckpointing model(std::make_shared<PretrainedConfig>());
  try {
    model.gradient_checkpointing_enable();
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "NoCheckpointing does not support gradient checkpointing.");
  }
  EXPECT_FALSE(model.is_gradient_checkpointing());
}

TEST(GradientCheckpointing, BertLayersRunAgainInBackwardWithEqualGradients) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  model->train();  // dropout 0.1 on: the recomputation must draw the same masks
  int layer_runs = 0;
  (*model->encoder->layer)[0].register_forward_pre_hook([&](nn::Module&) { ++layer_runs; });
  const ModelInputs inputs = bert_inputs(/*attentions=*/true);

  std::map<std::string, at::Tensor> plain, checkpointed;
  const at::Tensor plain_loss = train_step(*model, inputs, plain);
  EXPECT_EQ(layer_runs, 1);
  EXPECT_EQ(plain.size(), 37u);  // every parameter but the pooler's (not in the loss)

  model->gradient_checkpointing_enable();
  layer_runs = 0;
  const at::Tensor checkpointed_loss = train_step(*model, inputs, checkpointed);
  EXPECT_EQ(layer_runs, 2);  // once in forward, once in backward
  EXPECT_TRUE(testing::tensors_close(checkpointed_loss, plain_loss, 1e-5));
  expect_same_gradients(plain, checkpointed);

  // Without the RNG state the recomputation draws other dropout masks: other gradients.
  model->gradient_checkpointing_enable(/*preserve_rng_state=*/false);
  std::map<std::string, at::Tensor> unpreserved;
  train_step(*model, inputs, unpreserved);
  EXPECT_FALSE(testing::tensors_close(unpreserved.at("encoder.layer.0.attention.self.query.weight"),
                                      plain.at("encoder.layer.0.attention.self.query.weight"), 1e-3));

  // In eval mode the flag does nothing (Transformers checks self.training).
  model->gradient_checkpointing_enable();
  model->eval();
  layer_runs = 0;
  std::map<std::string, at::Tensor> evaluated;
  train_step(*model, inputs, evaluated);
  EXPECT_EQ(layer_runs, 1);
}

TEST(GradientCheckpointing, FrozenEmbeddingsStillGiveLayerGradients) {
  // torch.utils.checkpoint(use_reentrant=True), Transformers' default, returns no parameter
  // gradients when no input requires grad; hfcpp's checkpoint makes the parameters inputs.
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  model->train();
  for (auto& p : model->embeddings->parameters()) p.requires_grad_(false);
  const ModelInputs inputs = bert_inputs(false);
  std::map<std::string, at::Tensor> plain, checkpointed;
  train_step(*model, inputs, plain);
  model->gradient_checkpointing_enable();
  train_step(*model, inputs, checkpointed);
  EXPECT_EQ(plain.count("embeddings.word_embeddings.weight"), 0u);
  EXPECT_TRUE(plain.count("encoder.layer.0.output.dense.weight"));
  expect_same_gradients(plain, checkpointed);
}

TEST(GradientCheckpointing, GPT2GradientsEqualAndCacheIsOff) {
  auto model = from_pretrained<GPT2LMHeadModel>(data_path("gpt2/GPT2LMHeadModel/ckpt"));
  model->train();
  ModelInputs inputs;
  inputs.input_ids = at::arange(12, at::kLong).remainder(50).view({2, 6});
  inputs.labels = inputs.input_ids;
  inputs.use_cache = true;
  inputs.output_attentions = true;
  int block_runs = 0;
  model->transformer->h->begin()[0]->register_forward_pre_hook([&](nn::Module&) { ++block_runs; });

  std::map<std::string, at::Tensor> plain, checkpointed;
  const at::Tensor plain_loss = train_step(*model, inputs, plain);
  EXPECT_EQ(block_runs, 1);
  model->gradient_checkpointing_enable();
  block_runs = 0;
  const at::Tensor checkpointed_loss = train_step(*model, inputs, checkpointed);
  EXPECT_EQ(block_runs, 2);
  EXPECT_TRUE(testing::tensors_close(checkpointed_loss, plain_loss, 1e-5));
  expect_same_gradients(plain, checkpointed);
  EXPECT_EQ(model->forward(inputs).past_key_values, nullptr);  // use_cache switched off while training
  model->eval();
  c10::NoGradGuard no_grad;
  EXPECT_NE(model->forward(inputs).past_key_values, nullptr);
}

TEST(GradientCheckpointing, LlamaGradientsEqual) {
  auto model = from_pretrained<LlamaForCausalLM>(data_path("llama/LlamaForCausalLM/ckpt"));
  model->train();
  ModelInputs inputs;
  inputs.input_ids = at::arange(12, at::kLong).remainder(50).view({2, 6});
  inputs.labels = inputs.input_ids;
  int layer_runs = 0;
  model->model->layers->begin()[0]->register_forward_pre_hook([&](nn::Module&) { ++layer_runs; });

  std::map<std::string, at::Tensor> plain, checkpointed;
  const at::Tensor plain_loss = train_step(*model, inputs, plain);
  model->gradient_checkpointing_enable();
  layer_runs = 0;
  const at::Tensor checkpointed_loss = train_step(*model, inputs, checkpointed);
  EXPECT_EQ(layer_runs, 2);
  EXPECT_TRUE(testing::tensors_close(checkpointed_loss, plain_loss, 1e-5));
  expect_same_gradients(plain, checkpointed);
  EXPECT_EQ(model->forward(inputs).past_key_values, nullptr);
}

TEST(GradientCheckpointing, WithoutGradModeNothingIsRecorded) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  model->train();
  model->gradient_checkpointing_enable();
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(bert_inputs(false));
  EXPECT_FALSE(out.last_hidden_state().requires_grad());
}

TEST(InputRequireGrads, EmbeddingOutputRequiresGradWhileEnabled) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  for (auto& p : model->parameters()) p.requires_grad_(false);
  ModelInputs inputs = bert_inputs(false);
  inputs.output_hidden_states = true;
  EXPECT_FALSE(model->forward(inputs).hidden_states()[0].requires_grad());
  model->enable_input_require_grads();
  model->enable_input_require_grads();  // replaces, does not stack
  EXPECT_EQ(model->get_input_embeddings()->has_forward_hooks(), true);
  const ModelOutput out = model->forward(inputs);
  EXPECT_TRUE(out.hidden_states()[0].requires_grad());
  EXPECT_TRUE(out.last_hidden_state().requires_grad());
  model->disable_input_require_grads();
  EXPECT_FALSE(model->get_input_embeddings()->has_forward_hooks());
  EXPECT_FALSE(model->forward(inputs).hidden_states()[0].requires_grad());
}

}  // namespace
}  // namespace hfcpp
