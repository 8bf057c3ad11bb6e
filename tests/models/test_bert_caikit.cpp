// bert-caikit-random: a real pytorch_model.bin written by Transformers 4.30 (tests/data/io/bin,
// from shared/models). It still carries the position_ids buffer that later versions stopped
// saving; Transformers drops it without a warning because the model has it as a buffer.
#include <gtest/gtest.h>

#include "hfcpp/io/tensor_source.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/bert.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

TEST(BertCaikitRandom, LoadsWithNoMissingOrUnexpectedKeysAndTheFilesValues) {
  const auto folder = data_path("io/bin/bert-caikit-random");
  LoadingInfo info;
  auto model = load_model_class("BertForSequenceClassification", folder, {}, &info);
  EXPECT_EQ(info.missing_keys, std::vector<std::string>{});
  EXPECT_EQ(info.unexpected_keys, std::vector<std::string>{});
  EXPECT_TRUE(info.mismatched_keys.empty());
  EXPECT_EQ(model->num_parameters(), 88507 - 512);  // the file's elements minus position_ids

  const auto source = open_tensor_source(folder / "pytorch_model.bin");
  const StateDict state = model->state_dict();
  int compared = 0;
  for (const auto& item : state) {
    if (!source->contains(item.key())) continue;
    EXPECT_TRUE(testing::tensors_equal(item.value(), source->load(item.key()))) << item.key();
    ++compared;
  }
  EXPECT_EQ(compared, 89);  // every tensor of the file but position_ids

  // The loaded model runs, and saving it as .bin or safetensors and loading back gives the same logits.
  ModelInputs inputs;
  inputs.input_ids = at::tensor({2, 45, 300, 1000, 3}, at::kLong).unsqueeze(0);
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(inputs).get("logits");
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{1, 2}));
  testing::TempDir dir;
  for (const bool safe : {true, false}) {
    model->save_pretrained(dir / (safe ? "st" : "bin"), {.safe_serialization = safe});
    auto again = load_model_class("BertForSequenceClassification", dir / (safe ? "st" : "bin"));
    EXPECT_TRUE(testing::tensors_equal(again->forward(inputs).get("logits"), logits)) << (safe ? "safetensors" : ".bin");
  }
}

}  // namespace
}  // namespace hfcpp
