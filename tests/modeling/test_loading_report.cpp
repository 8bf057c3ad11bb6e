// from_pretrained across classes against Transformers' loading reports
// (tests/data/loading/expected.json): missing / unexpected / mismatched keys, which messages are
// warnings, the values drawn for newly initialised weights, and the outputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/models/auto.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/nn/module.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

const nlohmann::json& expected() {
  static const nlohmann::json data = nlohmann::json::parse(testing::read_file(data_path("loading/expected.json")));
  return data;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& [name, value] : expected()["cases"].items()) names.push_back(name);
  return names;
}

FromPretrainedOptions options_from(const nlohmann::json& kwargs) {
  FromPretrainedOptions options;
  for (const auto& [key, value] : kwargs.items()) {
    if (key == "ignore_mismatched_sizes") options.ignore_mismatched_sizes = value.get<bool>();
    else options.config_overrides[key] = value;
  }
  return options;
}

// Python logs it for every BertForMaskedLM; it concerns Python's class hierarchy only.
bool is_python_only(const std::string& line) { return line.find("GenerationMixin") != std::string::npos; }

class LoadingReport : public ::testing::TestWithParam<std::string> {};

TEST_P(LoadingReport, MatchesTransformers) {
  const auto& c = expected()["cases"][GetParam()];
  const std::string cls = c["class"];
  ASSERT_NE(find_model_class(cls), nullptr) << cls << " is not registered";
  const auto checkpoint = data_path(c["checkpoint"].get<std::string>());
  const auto tensors = data_path("loading/" + GetParam() + ".safetensors");

  at::manual_seed(c["seed_before_load"].get<std::uint64_t>());
  LoadingInfo info;
  std::shared_ptr<PreTrainedModel> model;
  std::vector<std::string> warnings;
  {
    logging::LogCapture capture(logging::Level::kDebug);
    model = load_model_class(cls, checkpoint, options_from(c["from_pretrained_kwargs"]), &info);
    warnings = capture.messages(logging::Level::kWarning);
  }
  const auto& expected_info = c["loading_info"];
  EXPECT_EQ(info.missing_keys, expected_info["missing_keys"].get<std::vector<std::string>>());
  EXPECT_EQ(info.unexpected_keys, expected_info["unexpected_keys"].get<std::vector<std::string>>());
  ASSERT_EQ(info.mismatched_keys.size(), expected_info["mismatched_keys"].size());
  for (std::size_t i = 0; i < info.mismatched_keys.size(); ++i) {
    const auto& [key, ckpt, mine] = info.mismatched_keys[i];
    EXPECT_EQ(key, expected_info["mismatched_keys"][i][0].get<std::string>());
    EXPECT_EQ(ckpt, expected_info["mismatched_keys"][i][1].get<std::vector<std::int64_t>>());
    EXPECT_EQ(mine, expected_info["mismatched_keys"][i][2].get<std::vector<std::int64_t>>());
  }
  EXPECT_TRUE(info.error_msgs.empty());
  std::size_t python_warnings = 0;
  for (const auto& line : c["log"])
    if (line.get<std::string>().rfind("WARNING", 0) == 0 && !is_python_only(line)) ++python_warnings;
  EXPECT_EQ(warnings.size(), python_warnings) << "warnings: " << ::testing::PrintToString(warnings);
  EXPECT_EQ(model->config().num_labels(), c["loaded_config_num_labels"].get<std::int64_t>());

  // Newly initialised weights hold exactly what Python drew after the same seed.
  const auto file = SafetensorsFile::open(tensors);
  ModelInputs inputs;
  for (const auto& entry : file.header().tensors) {
    const std::string& name = entry.name;
    if (name.rfind("initialized.", 0) == 0) {
      const at::Tensor actual = nn::find_tensor(*model, name.substr(12));
      ASSERT_TRUE(actual.defined()) << name;
      EXPECT_TRUE(testing::tensors_equal(actual, file.tensor(entry))) << name;
    }
    if (name == "input_ids") inputs.input_ids = file.tensor(entry);
    if (name == "attention_mask") inputs.attention_mask = file.tensor(entry);
    if (name == "token_type_ids") inputs.token_type_ids = file.tensor(entry);
  }
  bool hidden = false, attentions = false;
  for (const auto& entry : file.header().tensors) {
    hidden |= entry.name.rfind("output.hidden_states.", 0) == 0;
    attentions |= entry.name.rfind("output.attentions.", 0) == 0;
  }
  inputs.output_hidden_states = hidden;
  inputs.output_attentions = attentions;
  c10::NoGradGuard no_grad;
  const ModelOutput out = model->forward(inputs);
  for (const auto& [name, tensor] : out.flatten()) {
    const auto* entry = file.header().find("output." + name);
    if (entry == nullptr) continue;  // e.g. past_key_values kept in the Python output only
    EXPECT_TRUE(testing::tensors_close(tensor, file.tensor(*entry), 1e-5)) << name;
  }
  for (const auto& entry : file.header().tensors)
    if (entry.name.rfind("output.", 0) == 0 && entry.name.rfind("output.past_key_values", 0) != 0) {
      bool produced = false;
      for (const auto& [name, tensor] : out.flatten()) produced |= ("output." + name) == entry.name;
      EXPECT_TRUE(produced) << entry.name;
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, LoadingReport, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

TEST(LoadingErrors, SizeMismatchWithoutIgnoreNamesKeysShapesAndTheFix) {
  const auto& e = expected()["errors"]["num_labels_changed_without_ignore_mismatched_sizes"];
  FromPretrainedOptions options;
  options.config_overrides = {{"num_labels", 5}};
  try {
    load_model_class(e["class"].get<std::string>(), data_path(e["checkpoint"].get<std::string>()), options);
    FAIL() << "loaded despite the size mismatch";
  } catch (const ValueError& error) {
    const std::string what = error.what();
    // Same keys in the same order as Python's RuntimeError (weight before bias).
    const auto weight = what.find("size mismatch for classifier.weight: the checkpoint has shape [3, 32], the model [5, 32]");
    const auto bias = what.find("size mismatch for classifier.bias: the checkpoint has shape [3], the model [5]");
    EXPECT_NE(weight, std::string::npos) << what;
    EXPECT_NE(bias, std::string::npos) << what;
    EXPECT_LT(weight, bias);
    EXPECT_NE(what.find("ignore_mismatched_sizes"), std::string::npos);
    EXPECT_NE(what.find("BertForSequenceClassification"), std::string::npos);
  }
}

// Fast init: BERT's MLM decoder is tied to the word embeddings (weight) and to cls.predictions.bias
// (bias), both in the checkpoint, so loading initialises nothing: the random generator is exactly
// where it was. (Random init of the decoder's [vocab, hidden] weight, thrown away on tying, was
// most of a BERT-large load.)
TEST(FastInit, TiedWeightsOfLoadedOnesAreNotRandomlyInitialized) {
  at::manual_seed(123);
  const at::Tensor expected = at::rand({4});
  at::manual_seed(123);
  LoadingInfo info;
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"), {}, &info);
  EXPECT_TRUE(info.missing_keys.empty());
  EXPECT_TRUE(at::equal(at::rand({4}), expected));
  EXPECT_EQ(model->cls->predictions->decoder->weight().data_ptr(),
            model->bert->embeddings->word_embeddings->weight().data_ptr());
}

}  // namespace
}  // namespace hfcpp
