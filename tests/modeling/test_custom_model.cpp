// A user's own model type, defined here and registered from outside the library, goes through
// the Auto classes, from_pretrained and save_pretrained like a built-in one.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/nn/layers.h"
#include "test_support.h"

namespace {

using namespace hfcpp;

class TinyRegressor : public PreTrainedModel {
 public:
  explicit TinyRegressor(std::shared_ptr<PretrainedConfig> config) : PreTrainedModel(std::move(config), class_info()) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(this->config().vocab_size(), 4));
    head = register_module("head", std::make_shared<nn::Linear>(4, 1));
    post_init();
  }
  static const ModelClassInfo& class_info() {
    static const ModelClassInfo info = [] {
      ModelClassInfo i;
      i.name = "TinyRegressor";
      i.model_type = "tiny-regressor";
      i.base_model_prefix = "tiny";
      return i;
    }();
    return info;
  }
  void init_module_weights(torch::nn::Module& module) override {
    c10::NoGradGuard no_grad;
    if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
      linear->weight().fill_(0.5);
      linear->bias()->fill_(-1.0);
    } else if (auto* embedding = dynamic_cast<nn::Embedding*>(&module)) {
      embedding->weight().copy_(at::arange(embedding->weight().numel(), at::kFloat).view_as(embedding->weight()));
    }
  }
  ModelOutput forward(const ModelInputs& inputs) override {
    ModelOutput out;
    out.set("logits", head->forward(embed->forward(inputs.input_ids).mean(1)));
    return out;
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::Linear> head;
};

void register_tiny() {
  static const bool once = [] {
    register_config_type({"tiny-regressor", {{"vocab_size", 10}, {"my_scale", 1.0}}, {}});
    register_model_class({&TinyRegressor::class_info(),
                          [](std::shared_ptr<PretrainedConfig> c) -> std::shared_ptr<PreTrainedModel> {
                            return std::make_shared<TinyRegressor>(std::move(c));
                          },
                          {}});
    AutoModelForSequenceClassification.register_model("tiny-regressor", "TinyRegressor");
    return true;
  }();
  (void)once;
}

TEST(CustomModel, RegisteredFromOutsideWorksEndToEnd) {
  register_tiny();
  auto config = PretrainedConfig::for_model_type("tiny-regressor");
  EXPECT_EQ(config.vocab_size(), 10);
  auto model = AutoModelForSequenceClassification.from_config(config);
  ASSERT_EQ(model->class_info().name, "TinyRegressor");
  // post_init ran the model's own initialisation.
  EXPECT_FLOAT_EQ(nn::find_tensor(*model, "head.weight")[0][0].item<float>(), 0.5f);

  hfcpp::testing::TempDir dir;
  model->save_pretrained(dir.path());
  LoadingInfo info;
  auto loaded = AutoModelForSequenceClassification.from_pretrained(dir.path(), {}, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty());
  ModelInputs inputs;
  inputs.input_ids = at::tensor({1, 2, 3}, at::kLong).view({1, 3});
  c10::NoGradGuard no_grad;
  EXPECT_TRUE(hfcpp::testing::tensors_equal(loaded->forward(inputs).logits(), model->forward(inputs).logits()));
  EXPECT_FLOAT_EQ(loaded->forward(inputs).logits().item<float>(), 0.5f * 4 * 9.5f - 1.0f);
}

TEST(CustomModel, UnknownModelTypeListsWhatIsSupported) {
  auto config = PretrainedConfig::from_dict({{"model_type", "no-such-model"}});
  try {
    AutoModel.from_config(config);
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("bert"), std::string::npos) << e.what();
  }
}

}  // namespace
