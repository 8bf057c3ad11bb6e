// resize_token_embeddings against surgery/resize.json (BertForMaskedLM, three resizes in a row,
// each after torch.manual_seed) and the behaviours the fixture does not cover: untied heads,
// Conv1D heads, padding_idx, the mean fallback.
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

const auto kFixture = [] { return data_path("surgery/resize.safetensors"); };

at::Tensor fixture(const std::string& name) { return reference_tensor(kFixture(), name); }

ModelInputs bert_inputs() {
  return {.input_ids = fixture("input_ids"), .attention_mask = fixture("attention_mask"),
          .token_type_ids = fixture("token_type_ids")};
}

at::Tensor logits(PreTrainedModel& model, const ModelInputs& inputs) {
  c10::NoGradGuard no_grad;
  return model.forward(inputs).logits();
}

std::vector<std::int64_t> shape(const at::Tensor& t) { return t.sizes().vec(); }

std::vector<std::string> warnings(const logging::LogCapture& capture) {
  return capture.messages(logging::Level::kWarning);
}

TEST(ResizeTokenEmbeddings, BertForMaskedLMStepsEqualTransformers) {
  const auto expected = nlohmann::json::parse(hfcpp::testing::read_file(data_path("surgery/resize.json")));
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  const ModelInputs inputs = bert_inputs();
  ASSERT_TRUE(tensors_equal(model->get_input_embeddings()->weight(), fixture("step0.word_embeddings")));
  ASSERT_TRUE(tensors_close(logits(*model, inputs), fixture("step0.logits"), 1e-5));

  const std::vector<std::function<nn::Embedding*()>> calls = {
      [&] { return model->resize_token_embeddings(120, std::nullopt, /*mean_resizing=*/false); },
      [&] { return model->resize_token_embeddings(std::nullopt, 64); },
      [&] { return model->resize_token_embeddings(80); },
  };
  for (std::size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i + 1));
    const auto& step = expected["steps"][i];
    const std::string prefix = "step" + std::to_string(i + 1) + ".";
    const at::Tensor before = model->get_input_embeddings()->weight().clone();
    at::manual_seed(step["seed_before_call"].get<std::uint64_t>());
    logging::LogCapture capture(logging::Level::kWarning);
    nn::Embedding* returned = calls[i]();

    auto& head = *model->cls->predictions;
    const at::Tensor& words = model->get_input_embeddings()->weight();
    EXPECT_EQ(returned, model->get_input_embeddings());
    EXPECT_EQ(shape(returned->weight()), step["returned_embedding_shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(shape(words), step["word_embeddings_shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(shape(head.decoder->weight()), step["decoder_weight_shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(shape(*head.decoder->bias()), step["decoder_bias_shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(shape(head.param("bias")), step["predictions_bias_shape"].get<std::vector<std::int64_t>>());
    EXPECT_TRUE(head.decoder->bias()->is_same(head.param("bias")));
    EXPECT_TRUE(head.decoder->weight().is_same(words));
    EXPECT_EQ(model->config().vocab_size(), step["config_vocab_size"].get<std::int64_t>());
    EXPECT_EQ(model->get_output_embeddings()->param("weight").size(0), step["config_vocab_size"].get<std::int64_t>());

    const std::int64_t surviving = step["surviving_rows"];
    EXPECT_TRUE(tensors_equal(words.narrow(0, 0, surviving), before.narrow(0, 0, surviving)));
    EXPECT_TRUE(tensors_equal(head.param("bias"), fixture(prefix + "predictions_bias")));

    const at::Tensor reference = fixture(prefix + "word_embeddings");
    if (i == 1) {
      // Python's new rows are exactly the mean of the old rows (its covariance test never passes);
      // ours are drawn from N(mean, 1e-9 * covariance), so they differ from the mean by ~1e-5.
      const at::Tensor mean = before.mean(0);
      for (std::int64_t row = 120; row < 128; ++row) EXPECT_TRUE(tensors_equal(reference[row], mean));
      EXPECT_TRUE(tensors_equal(words.narrow(0, 0, 120), reference.narrow(0, 0, 120)));
      const at::Tensor added = words.narrow(0, 120, 8);
      EXPECT_TRUE(tensors_close(added, reference.narrow(0, 120, 8), 1e-4));
      EXPECT_FALSE(at::equal(added, reference.narrow(0, 120, 8)));
      EXPECT_TRUE(tensors_close(logits(*model, inputs), fixture(prefix + "logits"), 1e-4));
      ASSERT_EQ(warnings(capture).size(), 1u);
      const std::string python = step["warnings"][0];
      EXPECT_EQ("WARNING: " + warnings(capture)[0], python);
    } else {
      // mean_resizing=false draws like Python's fresh nn.Embedding + _init_weights: equal bit for bit.
      EXPECT_TRUE(tensors_equal(words, reference));
      EXPECT_TRUE(tensors_close(logits(*model, inputs), fixture(prefix + "logits"), 1e-5));
      EXPECT_TRUE(warnings(capture).empty());
    }
  }

  // Resized models save and reload as they are.
  hfcpp::testing::TempDir dir;
  model->save_pretrained(dir.path());
  LoadingInfo info;
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path(), {}, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());
  EXPECT_EQ(reloaded->config().vocab_size(), 80);
  EXPECT_TRUE(tensors_equal(logits(*reloaded, inputs), logits(*model, inputs)));
  EXPECT_TRUE(tensors_close(logits(*reloaded, inputs), fixture("step3.logits"), 1e-5));
}

TEST(ResizeTokenEmbeddings, NoSizeReturnsTheEmbeddingsUnchanged) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  const at::Tensor before = model->get_input_embeddings()->weight();
  EXPECT_EQ(model->resize_token_embeddings(), model->get_input_embeddings());
  EXPECT_TRUE(model->get_input_embeddings()->weight().is_same(before));
  EXPECT_EQ(model->config().vocab_size(), 99);
  EXPECT_THROW(model->resize_token_embeddings(std::nullopt, 0), ValueError);
  EXPECT_THROW(model->resize_token_embeddings(-1), ValueError);
  // Rounding up keeps an already aligned size.
  model->resize_token_embeddings(96, 32);
  EXPECT_EQ(model->config().vocab_size(), 96);
  EXPECT_TRUE(model->get_input_embeddings()->weight().requires_grad());
}

TEST(ResizeTokenEmbeddings, UntiedLinearHeadFollows) {
  logging::LogCapture quiet(logging::Level::kWarning);
  auto model = from_pretrained<LlamaForCausalLM>(data_path("llama/LlamaForCausalLM/ckpt"));
  ASSERT_FALSE(model->config().tie_word_embeddings());
  auto* head = dynamic_cast<nn::Linear*>(model->get_output_embeddings());
  ASSERT_NE(head, nullptr);
  const at::Tensor words_before = model->get_input_embeddings()->weight().clone();
  const at::Tensor head_before = head->weight().clone();
  const ModelInputs inputs{.input_ids = at::tensor({5, 17, 42, 8}, at::kLong).view({1, 4})};
  const at::Tensor logits_before = logits(*model, inputs);

  at::manual_seed(0);
  model->resize_token_embeddings(110, std::nullopt, /*mean_resizing=*/false);
  EXPECT_EQ(shape(model->get_input_embeddings()->weight()), (std::vector<std::int64_t>{110, 32}));
  EXPECT_EQ(shape(head->weight()), (std::vector<std::int64_t>{110, 32}));
  EXPECT_FALSE(head->weight().is_same(model->get_input_embeddings()->weight()));
  EXPECT_TRUE(tensors_equal(head->weight().narrow(0, 0, 99), head_before));
  EXPECT_TRUE(tensors_equal(model->get_input_embeddings()->weight().narrow(0, 0, 99), words_before));
  // The old vocabulary's logits are unchanged (up to BLAS blocking of a wider matmul); the new
  // rows come from the model's init N(0, 0.2).
  const at::Tensor grown = logits(*model, inputs);
  EXPECT_TRUE(tensors_close(grown.narrow(-1, 0, 99), logits_before, 1e-5));
  const double std = head->weight().narrow(0, 99, 11).std().item<double>();
  EXPECT_GT(std, 0.1);
  EXPECT_LT(std, 0.3);

  // mean_resizing: new head rows sit at the old rows' mean (within the 1e-9 covariance).
  model->resize_token_embeddings(120);
  const at::Tensor mean = head->weight().narrow(0, 0, 110).mean(0);
  EXPECT_TRUE(tensors_close(head->weight().narrow(0, 110, 10), mean.expand({10, -1}), 1e-4));

  model->resize_token_embeddings(50);
  EXPECT_EQ(head->weight().size(0), 50);
  EXPECT_TRUE(tensors_equal(head->weight(), head_before.narrow(0, 0, 50)));
  EXPECT_TRUE(tensors_close(logits(*model, inputs), logits_before.narrow(-1, 0, 50), 1e-5));
}

TEST(ResizeTokenEmbeddings, UntiedHeadBiasStaysSharedAndFollowsTheMean) {
  logging::LogCapture quiet(logging::Level::kWarning);
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"),
                                                {.config_overrides = {{"tie_word_embeddings", false}}});
  auto& head = *model->cls->predictions;
  ASSERT_FALSE(head.decoder->weight().is_same(model->get_input_embeddings()->weight()));
  const at::Tensor bias_before = head.param("bias").clone();
  model->resize_token_embeddings(104);
  EXPECT_EQ(head.decoder->weight().size(0), 104);
  EXPECT_TRUE(head.decoder->bias()->is_same(head.param("bias")));
  EXPECT_TRUE(tensors_equal(head.param("bias").narrow(0, 0, 99), bias_before));
  // Python's _init_added_lm_head_bias_with_mean: N(mean, 1e-9 * std) of the old bias.
  const at::Tensor added = head.param("bias").narrow(0, 99, 5);
  EXPECT_TRUE(tensors_close(added, bias_before.mean().expand({5}), 1e-6));
}

TEST(ResizeTokenEmbeddings, TiedGPT2HeadIsTheEmbedding) {
  auto model = from_pretrained<GPT2LMHeadModel>(data_path("gpt2/GPT2LMHeadModel/ckpt"));
  model->resize_token_embeddings(100, std::nullopt, false);
  EXPECT_TRUE(model->lm_head->weight().is_same(model->transformer->wte->weight()));
  EXPECT_EQ(model->lm_head->weight().size(0), 100);
  EXPECT_EQ(model->config().vocab_size(), 100);
}

TEST(ResizeTokenEmbeddings, PaddingIdxBeyondTheNewSizeIsDropped) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"), {.config_overrides = {{"pad_token_id", 90}}});
  ASSERT_EQ(model->get_input_embeddings()->padding_idx, 90);
  model->resize_token_embeddings(91);
  EXPECT_EQ(model->get_input_embeddings()->padding_idx, 90);
  model->resize_token_embeddings(90);
  EXPECT_EQ(model->get_input_embeddings()->padding_idx, std::nullopt);
}

TEST(ResizeTokenEmbeddings, MeanResizingFallsBackToTheMeanWithoutAProperCovariance) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  const at::Tensor& words = model->get_input_embeddings()->weight();
  {
    c10::NoGradGuard no_grad;
    // Every row equal (multiples of 1/8, so their mean is exact): covariance 0, not positive definite.
    words.copy_((at::arange(32, at::kFloat) - 16).mul(0.125).expand_as(words));
  }
  logging::LogCapture capture(logging::Level::kWarning);
  model->resize_token_embeddings(105);
  EXPECT_EQ(capture.messages(logging::Level::kWarning).size(), 1u);
  EXPECT_TRUE(tensors_equal(words.narrow(0, 99, 6), words[3].expand({6, 32})));
}

TEST(ResizeTokenEmbeddings, MeanResizingSamplesAroundTheMean) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  const at::Tensor old = model->get_input_embeddings()->weight().clone();
  logging::LogCapture quiet(logging::Level::kWarning);
  at::manual_seed(1);
  model->resize_token_embeddings(109);
  const at::Tensor added = model->get_input_embeddings()->weight().narrow(0, 99, 10);
  const at::Tensor deviation = added - old.mean(0);
  // Spread sqrt(1e-9 * variance) per coordinate: about 1e-5 here, never 0.
  EXPECT_LT(deviation.abs().max().item<double>(), 1e-4);
  EXPECT_GT(deviation.abs().max().item<double>(), 0.0);
  EXPECT_FALSE(at::equal(added[0], added[1]));
}

// A model whose LM head is a Conv1D (weight [dim, vocab]): the transposed layout.
class TinyConvLM : public PreTrainedModel {
 public:
  explicit TinyConvLM(std::shared_ptr<PretrainedConfig> config) : PreTrainedModel(std::move(config), class_info()) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(this->config().vocab_size(), 8));
    head = register_module("head", std::make_shared<nn::Conv1D>(this->config().vocab_size(), 8));
    post_init();
  }
  static const ModelClassInfo& class_info() {
    static const ModelClassInfo info = [] {
      ModelClassInfo i;
      i.name = "TinyConvLM";
      i.model_type = "tiny-conv-lm";
      return i;
    }();
    return info;
  }
  void init_module_weights(torch::nn::Module& module) override {
    c10::NoGradGuard no_grad;
    if (auto* conv = dynamic_cast<nn::Conv1D*>(&module)) {
      conv->weight().normal_(0.0, 1.0);
      conv->bias()->normal_(0.0, 1.0);
    } else if (auto* embedding = dynamic_cast<nn::Embedding*>(&module)) {
      embedding->weight().normal_(0.0, 1.0);
    }
  }
  nn::Embedding* get_input_embeddings() override { return embed.get(); }
  nn::Module* get_output_embeddings() override { return head.get(); }
  ModelOutput forward(const ModelInputs& inputs) override {
    ModelOutput out;
    out.set("logits", head->forward(embed->forward(inputs.input_ids)));
    return out;
  }
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::Conv1D> head;
};

TEST(ResizeTokenEmbeddings, Conv1DHeadResizesItsColumns) {
  PretrainedConfig config;
  config.set("vocab_size", 40);
  config.set("tie_word_embeddings", false);
  at::manual_seed(3);
  auto model = from_config<TinyConvLM>(config);
  const at::Tensor weight_before = model->head->weight().clone();
  const at::Tensor bias_before = model->head->bias()->clone();
  logging::LogCapture quiet(logging::Level::kWarning);
  model->resize_token_embeddings(48);
  EXPECT_EQ(shape(model->head->weight()), (std::vector<std::int64_t>{8, 48}));
  EXPECT_EQ(shape(*model->head->bias()), (std::vector<std::int64_t>{48}));
  EXPECT_TRUE(tensors_equal(model->head->weight().narrow(1, 0, 40), weight_before));
  EXPECT_TRUE(tensors_equal(model->head->bias()->narrow(0, 0, 40), bias_before));
  // New columns at the mean of the old ones (the transposed rows), bias at the old bias' mean.
  EXPECT_TRUE(tensors_close(model->head->weight().narrow(1, 40, 8), weight_before.mean(1, true).expand({8, 8}), 1e-3));
  EXPECT_TRUE(tensors_close(model->head->bias()->narrow(0, 40, 8), bias_before.mean().expand({8}), 1e-6));
  model->resize_token_embeddings(30, std::nullopt, false);
  EXPECT_TRUE(tensors_equal(model->head->weight(), weight_before.narrow(1, 0, 30)));
  EXPECT_TRUE(tensors_equal(*model->head->bias(), bias_before.narrow(0, 0, 30)));
  const ModelInputs inputs{.input_ids = at::tensor({1, 29}, at::kLong).view({1, 2})};
  EXPECT_EQ(shape(model->forward(inputs).logits()), (std::vector<std::int64_t>{1, 2, 30}));
}

}  // namespace
