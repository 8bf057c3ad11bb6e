// ModuleUtilsMixin's masks against Transformers' (utils/masks.safetensors, described in
// utils/utils.json): extended attention masks (encoder, decoder with its causal mask, 3-D, after
// cached tokens, other dtypes), inverted masks and head masks, bit for bit.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "hfcpp/error.h"
#include "hfcpp/models/bert.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::reference_tensor;
using testing::tensors_equal;

const std::filesystem::path& masks_file() {
  static const auto file = data_path("utils/masks.safetensors");
  return file;
}

at::Tensor expected(const std::string& name) { return reference_tensor(masks_file(), name); }

std::shared_ptr<BertModel> model(bool is_decoder = false) {
  auto m = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  m->config().set("is_decoder", is_decoder);
  return m;
}

TEST(ExtendedAttentionMask, EncoderEqualsTransformers) {
  auto m = model();
  const at::Tensor mask = expected("attention_mask");
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(mask, {2, 7}), expected("extended.encoder_2d")));
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(expected("attention_mask_3d"), {2, 7}),
                            expected("extended.encoder_3d")));
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(mask, {2, 7}, at::kBFloat16),
                            expected("extended.encoder_2d_bfloat16")));
}

TEST(ExtendedAttentionMask, DecoderAddsTheCausalMask) {
  auto m = model(/*is_decoder=*/true);
  const at::Tensor mask = expected("attention_mask");
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(mask, {2, 7}), expected("extended.decoder_2d")));
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(mask, {2, 7}, at::kHalf),
                            expected("extended.decoder_2d_float16")));
  // 3 new tokens after 4 cached ones: every new token sees all cached ones.
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(mask, {2, 3}), expected("extended.decoder_2d_past4")));
  // A 3-D mask is the caller's: no causal mask is added.
  EXPECT_TRUE(tensors_equal(m->get_extended_attention_mask(expected("attention_mask_3d"), {2, 7}),
                            expected("extended.decoder_3d")));
}

TEST(ExtendedAttentionMask, MaskedValueIsTheDtypesMinimum) {
  auto m = model();
  const at::Tensor mask = at::tensor({1, 0}, at::kLong).view({1, 2});
  const at::Tensor f32 = m->get_extended_attention_mask(mask, {1, 2});
  EXPECT_EQ(f32[0][0][0][1].item<float>(), std::numeric_limits<float>::lowest());
  EXPECT_TRUE(std::signbit(f32[0][0][0][0].item<float>()));  // (1 - 1) * min = -0.0, as in Python
  EXPECT_EQ(m->get_extended_attention_mask(mask, {1, 2}, at::kHalf)[0][0][0][1].item<float>(), -65504.0f);
  EXPECT_EQ(m->get_extended_attention_mask(mask, {1, 2}, at::kDouble)[0][0][0][1].item<double>(),
            std::numeric_limits<double>::lowest());
  EXPECT_THROW(m->get_extended_attention_mask(mask.view({2}), {1, 2}), ValueError);
  EXPECT_THROW(m->get_extended_attention_mask(mask, {1, 2}, at::kLong), ValueError);
}

TEST(InvertAttentionMask, EqualsTransformers) {
  auto m = model();
  EXPECT_TRUE(tensors_equal(m->invert_attention_mask(expected("attention_mask")), expected("inverted.2d")));
  EXPECT_TRUE(tensors_equal(m->invert_attention_mask(expected("attention_mask_3d")), expected("inverted.3d")));
}

at::Tensor stacked(const std::vector<at::Tensor>& per_layer) { return at::stack(per_layer); }

TEST(HeadMask, OneAndTwoDimensionalEqualTransformers) {
  auto m = model();
  EXPECT_TRUE(tensors_equal(stacked(m->get_head_mask(expected("head_mask_1d"), 2)), expected("get_head_mask.1d")));
  EXPECT_TRUE(tensors_equal(stacked(m->get_head_mask(expected("head_mask_2d"), 2)), expected("get_head_mask.2d")));
  EXPECT_TRUE(tensors_equal(stacked(m->get_head_mask(expected("head_mask_1d"), 2, /*is_attention_chunked=*/true)),
                            expected("get_head_mask.1d_chunked")));
  // None: one undefined mask per layer ([None, None]).
  const auto none = m->get_head_mask(at::Tensor(), 2);
  ASSERT_EQ(none.size(), 2u);
  EXPECT_FALSE(none[0].defined());
  EXPECT_FALSE(none[1].defined());
  EXPECT_THROW(m->get_head_mask(at::ones({1, 2, 4}), 2), ValueError);
}

TEST(HeadMask, MaskedForwardEqualsTransformers) {
  auto m = model();
  const auto reference = data_path("bert/BertModel/reference.safetensors");
  ModelInputs inputs;
  inputs.input_ids = reference_tensor(reference, "input_ids");
  inputs.attention_mask = reference_tensor(reference, "attention_mask");
  inputs.token_type_ids = reference_tensor(reference, "token_type_ids");
  inputs.head_mask = expected("head_mask_2d");
  inputs.output_attentions = true;
  inputs.output_hidden_states = true;
  c10::NoGradGuard no_grad;
  const ModelOutput out = m->forward(inputs);
  int compared = 0;
  for (const auto& [name, tensor] : out.flatten()) {
    EXPECT_TRUE(testing::tensors_close(tensor, expected("head_masked_forward." + name), 1e-5)) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 7);  // last_hidden_state, pooler_output, 3 hidden states, 2 attentions
  // Returned probabilities are the masked ones, as in Python: head 2 of layer 0 is zero.
  ASSERT_EQ(expected("head_mask_2d")[0][2].item<float>(), 0.0f);
  EXPECT_EQ(out.attentions()[0].select(1, 2).abs().sum().item<float>(), 0.0f);
  EXPECT_NEAR(out.attentions()[0].select(1, 1).sum().item<float>(), 14.0f, 1e-4);  // rows sum to 1
}

}  // namespace
}  // namespace hfcpp
