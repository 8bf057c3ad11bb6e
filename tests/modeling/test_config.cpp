// PretrainedConfig / GenerationConfig as Transformers reads and writes them.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/config/generation_config.h"
#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::read_file;

TEST(PretrainedConfig, ReadsTypedFieldsWithClassDefaults) {
  const auto config = auto_config(data_path("bert/BertForSequenceClassification/ckpt"));
  EXPECT_EQ(config.model_type(), "bert");
  EXPECT_EQ(config.architectures(), std::vector<std::string>{"BertForSequenceClassification"});
  EXPECT_EQ(config.vocab_size(), 99);
  EXPECT_EQ(config.num_labels(), 3);
  EXPECT_EQ(config.id2label().at(2), "LABEL_2");
  EXPECT_EQ(*config.pad_token_id(), 0);
  EXPECT_EQ(*config.torch_dtype(), c10::ScalarType::Float);
  EXPECT_DOUBLE_EQ(config.initializer_range(), 0.2);
  EXPECT_FALSE(config.is_decoder());
  EXPECT_TRUE(config.use_return_dict());
  // Absent from the file: BertConfig's default.
  EXPECT_EQ(config.get<std::string>("position_embedding_type"), "absolute");
}

TEST(PretrainedConfig, UnknownFieldsSurviveARoundTrip) {
  auto json = nlohmann::json::parse(read_file(data_path("bert/BertModel/ckpt/config.json")));
  json["my_custom_field"] = {{"nested", {1, 2, 3}}, {"flag", true}};
  json["rope_theta"] = 500000.0;
  const auto config = PretrainedConfig::from_dict(json);
  const auto out = nlohmann::json::parse(config.to_json_string());
  EXPECT_EQ(out["my_custom_field"], json["my_custom_field"]);
  EXPECT_EQ(out["rope_theta"], 500000.0);
}

TEST(PretrainedConfig, OverridesAsFromPretrainedKwargs) {
  auto config = auto_config(data_path("bert/BertForSequenceClassification/ckpt"));
  config.update({{"num_labels", 5}, {"output_attentions", true}, {"torch_dtype", "torch.bfloat16"}});
  EXPECT_EQ(config.num_labels(), 5);
  EXPECT_EQ(config.id2label().at(4), "LABEL_4");
  EXPECT_TRUE(config.output_attentions());
  EXPECT_EQ(*config.torch_dtype(), c10::ScalarType::BFloat16);
  const auto out = nlohmann::json::parse(config.to_json_string());
  EXPECT_EQ(out["label2id"]["LABEL_4"], 4);
  EXPECT_EQ(out["torch_dtype"], "bfloat16");
}

TEST(PretrainedConfig, ADiffDictWrittenFromScratchEqualsPythons) {
  // BertConfig(**kwargs of the fixtures) as Python saved it for BertModel, minus what
  // save_pretrained adds (architectures, torch_dtype) and the version.
  auto config = PretrainedConfig::for_model_type("bert");
  config.update({{"vocab_size", 99}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                 {"intermediate_size", 37}, {"max_position_embeddings", 64}, {"initializer_range", 0.2}});
  config.set_architectures({"BertModel"});
  config.set_torch_dtype(c10::ScalarType::Float);
  auto mine = nlohmann::json::parse(config.to_json_string());
  auto python = nlohmann::json::parse(read_file(data_path("bert/BertModel/ckpt/config.json")));
  mine.erase("transformers_version");
  python.erase("transformers_version");
  EXPECT_EQ(mine, python);
}

TEST(PretrainedConfig, PythonJsonLayout) {
  nlohmann::json value = {{"b", 1e-12}, {"a", {1, 2}}, {"c", nlohmann::json::object()}, {"d", "caf\xc3\xa9"},
                          {"e", 10000.0}, {"f", 1e16}, {"g", 1e15}, {"h", 0.0001}, {"i", 2.5e-7}};
  EXPECT_EQ(python_json_dumps(value),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1e-12,\n  \"c\": {},\n  \"d\": \"caf\\u00e9\",\n"
            "  \"e\": 10000.0,\n  \"f\": 1e+16,\n  \"g\": 1000000000000000.0,\n  \"h\": 0.0001,\n  \"i\": 2.5e-07\n}");
}

TEST(PretrainedConfig, MissingConfigSaysWhereItLooked) {
  testing::TempDir dir;
  try {
    PretrainedConfig::from_pretrained(dir.path());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos);
  }
  testing::write_file(dir / "config.json", "{\"model_type\": ");
  EXPECT_THROW(PretrainedConfig::from_pretrained(dir.path()), FormatError);
}

TEST(GenerationConfig, FromModelConfigAndFileEqualPythons) {
  const auto ckpt = data_path("bert/BertForMaskedLM/ckpt");
  const auto from_model = GenerationConfig::from_model_config(auto_config(ckpt));
  auto mine = nlohmann::json::parse(from_model.to_json_string());
  auto python = nlohmann::json::parse(read_file(ckpt / "generation_config.json"));
  mine.erase("transformers_version");
  python.erase("transformers_version");
  EXPECT_EQ(mine, python);
  const auto loaded = GenerationConfig::from_pretrained(ckpt);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded->pad_token_id(), 0);
  EXPECT_EQ(loaded->max_length(), 20);
  EXPECT_FALSE(GenerationConfig::from_pretrained(data_path("bert/BertModel/ckpt")));
}

}  // namespace
}  // namespace hfcpp
