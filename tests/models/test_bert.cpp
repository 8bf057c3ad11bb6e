// BERT against the outputs Python Transformers recorded (tests/data/bert, from shared/fixtures).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/bert.h"
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
  inputs.token_type_ids = reference_tensor(reference, "token_type_ids");
  inputs.output_attentions = true;
  inputs.output_hidden_states = true;
  return inputs;
}

class BertReference : public ::testing::TestWithParam<std::string> {};

TEST_P(BertReference, EveryOutputEqualsTransformers) {
  const std::string cls = GetParam();
  const auto folder = data_path("bert/" + cls);
  const auto reference = folder / "reference.safetensors";
  LoadingInfo info;
  auto model = load_model_class(cls, folder / "ckpt", {}, &info);
  EXPECT_TRUE(info.missing_keys.empty());
  EXPECT_TRUE(info.unexpected_keys.empty());
  EXPECT_EQ(model->class_info().name, cls);
  EXPECT_FALSE(model->is_training());

  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(reference_inputs(reference));
  const auto expected_file = SafetensorsFile::open(reference);
  int compared = 0;
  for (const auto& [name, tensor] : out.flatten()) {
    ASSERT_NE(expected_file.header().find(name), nullptr) << cls << " output " << name << " has no reference";
    EXPECT_TRUE(tensors_close(tensor, expected_file.tensor(name), 1e-5)) << cls << " " << name;
    ++compared;
  }
  // Every reference output (besides the inputs) was produced.
  int references = 0;
  for (const auto& entry : expected_file.header().tensors)
    if (entry.name != "input_ids" && entry.name != "attention_mask" && entry.name != "token_type_ids") ++references;
  EXPECT_EQ(compared, references);
}

INSTANTIATE_TEST_SUITE_P(Classes, BertReference,
                         ::testing::Values("BertModel", "BertForMaskedLM", "BertForSequenceClassification",
                                           "BertForTokenClassification", "BertForQuestionAnswering",
                                           "BertForPreTraining"));

TEST(Bert, TypedAndAutoEntryPointsAgree) {
  const auto ckpt = data_path("bert/BertForMaskedLM/ckpt");
  auto typed = from_pretrained<BertForMaskedLM>(ckpt);
  ASSERT_TRUE(typed);
  auto automatic = AutoModelForMaskedLM.from_pretrained(ckpt);
  EXPECT_EQ(automatic->class_info().name, "BertForMaskedLM");
  auto base = AutoModel.from_pretrained(ckpt);
  EXPECT_EQ(base->class_info().name, "BertModel");
  // Tied: the decoder weight is the word embedding tensor, the decoder bias the prediction bias.
  EXPECT_TRUE(typed->cls->predictions->decoder->weight().is_same(typed->bert->embeddings->word_embeddings->weight()));
  EXPECT_TRUE(typed->cls->predictions->decoder->bias()->is_same(typed->cls->predictions->param("bias")));
}

TEST(Bert, LossesAsTransformersComputesThem) {
  auto model = from_pretrained<BertForSequenceClassification>(data_path("bert/BertForSequenceClassification/ckpt"));
  const auto reference = data_path("bert/BertForSequenceClassification/reference.safetensors");
  ModelInputs inputs = reference_inputs(reference);
  inputs.labels = at::tensor({2, 0}, at::kLong);
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(inputs);
  const at::Tensor logits = reference_tensor(reference, "logits");
  const at::Tensor expected = at::cross_entropy_loss(logits, inputs.labels);
  EXPECT_TRUE(tensors_close(out.loss(), expected, 1e-6));
  EXPECT_EQ(*model->config().problem_type(), "single_label_classification");
}

TEST(Bert, QuestionAnsweringLossClampsPositions) {
  auto model = from_pretrained<BertForQuestionAnswering>(data_path("bert/BertForQuestionAnswering/ckpt"));
  const auto reference = data_path("bert/BertForQuestionAnswering/reference.safetensors");
  ModelInputs inputs = reference_inputs(reference);
  inputs.start_positions = at::tensor({1, 100}, at::kLong);  // 100 is clamped to 7 and ignored
  inputs.end_positions = at::tensor({3, 2}, at::kLong);
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(inputs);
  const at::Tensor start = reference_tensor(reference, "start_logits");
  const at::Tensor end = reference_tensor(reference, "end_logits");
  const at::Tensor s = at::cross_entropy_loss(start, at::tensor({1, 7}, at::kLong), {}, at::Reduction::Mean, 7);
  const at::Tensor e = at::cross_entropy_loss(end, at::tensor({3, 2}, at::kLong), {}, at::Reduction::Mean, 7);
  EXPECT_TRUE(tensors_close(out.loss(), (s + e) / 2, 1e-6));
}

TEST(Bert, RequiresExactlyOneOfIdsAndEmbeddings) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  EXPECT_THROW(model->forward({}), ValueError);
}

}  // namespace
}  // namespace hfcpp
