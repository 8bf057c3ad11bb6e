// num_parameters, estimate_tokens, floating_point_ops and get_memory_footprint against
// surgery/numbers.json (every fixture class, and Python's pruned checkpoint).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "hfcpp/logging.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/bert.h"
#include "test_support.h"

namespace {

using namespace hfcpp;
using hfcpp::testing::data_path;

std::string checkpoint_of(const std::string& name) {
  if (name == "BertModel(pruned_ckpt)") return "surgery/pruned_ckpt";
  const std::string family = name.rfind("Bert", 0) == 0 ? "bert" : name.rfind("GPT2", 0) == 0 ? "gpt2" : "llama";
  return family + "/" + name + "/ckpt";
}

std::string dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Bool: return "bool";
    case c10::ScalarType::Float: return "float32";
    default: return c10::toString(type);
  }
}

TEST(ModelNumbers, EqualTransformers) {
  const auto expected = nlohmann::json::parse(hfcpp::testing::read_file(data_path("surgery/numbers.json")));
  ASSERT_EQ(expected.size(), 13u);
  for (const auto& [name, numbers] : expected.items()) {
    SCOPED_TRACE(name);
    const std::string cls = name.substr(0, name.find('('));
    auto model = load_model_class(cls, data_path(checkpoint_of(name)));
    const auto shape = numbers["input_ids_shape"].get<std::vector<std::int64_t>>();
    const ModelInputs inputs{.input_ids = at::zeros(shape, at::kLong)};
    EXPECT_EQ(model->num_parameters(), numbers["num_parameters"].get<std::int64_t>());
    EXPECT_EQ(model->num_parameters(/*only_trainable=*/true), numbers["num_parameters_only_trainable"].get<std::int64_t>());
    EXPECT_EQ(model->num_parameters(false, /*exclude_embeddings=*/true),
              numbers["num_parameters_exclude_embeddings"].get<std::int64_t>());
    EXPECT_EQ(model->estimate_tokens(inputs), numbers["estimate_tokens"].get<std::int64_t>());
    EXPECT_EQ(model->floating_point_ops(inputs), numbers["floating_point_ops"].get<std::int64_t>());
    EXPECT_EQ(model->get_memory_footprint(), numbers["get_memory_footprint"].get<std::int64_t>());
    EXPECT_EQ(model->get_memory_footprint(/*return_buffers=*/false),
              numbers["get_memory_footprint_no_buffers"].get<std::int64_t>());
    // The buffers behind the footprint: Python's, persistent or not.
    std::map<std::string, std::pair<std::string, std::vector<std::int64_t>>> buffers;
    for (const auto& item : model->named_buffers())
      buffers[item.key()] = {dtype_name(item.value().scalar_type()), item.value().sizes().vec()};
    std::map<std::string, std::pair<std::string, std::vector<std::int64_t>>> python;
    for (const auto& [key, buffer] : numbers["buffers"].items())
      python[key] = {buffer["dtype"].get<std::string>(), buffer["shape"].get<std::vector<std::int64_t>>()};
    EXPECT_EQ(buffers, python);
  }
}

TEST(ModelNumbers, NoMainInputMeansNoTokensAndAWarning) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  logging::LogCapture capture(logging::Level::kWarning);
  const ModelInputs embeds_only{.inputs_embeds = at::zeros({2, 7, 32})};
  EXPECT_EQ(model->estimate_tokens(embeds_only), 0);
  EXPECT_EQ(model->floating_point_ops(embeds_only), 0);
  // Counting all parameters instead of non-embedding ones.
  const ModelInputs ids{.input_ids = at::zeros({2, 7}, at::kLong)};
  EXPECT_EQ(model->floating_point_ops(ids, /*exclude_embeddings=*/false), 6 * 14 * 19978);
}

TEST(ModelNumbers, PackedFourBitWeightsCountTwicePerByte) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  // A 32x32 weight packed as bitsandbytes stores it: 512 bytes, [numel / 2, 1] uint8.
  auto& dense = *model->pooler->dense;
  dense.set_param("weight", at::zeros({512, 1}, at::kByte));
  const std::int64_t others = 19978 - 32 * 32;
  EXPECT_EQ(model->num_parameters(), others + 512);  // not loaded in 4-bit: plain numel
  model->is_loaded_in_4bit = true;
  EXPECT_EQ(model->num_parameters(), others + 1024);
  EXPECT_EQ(model->num_parameters(false, true), others + 1024 - (99 + 64 + 2) * 32);
  // The footprint is bytes, whatever the packing.
  EXPECT_EQ(model->get_memory_footprint(false), others * 4 + 512);
}

}  // namespace
