// `hfcpp forward`: the file it writes holds the tensors Python Transformers returned for the same
// inputs (tests/data/<family>/<Class>/reference.safetensors), under the same names, to 1e-5.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cli_support.h"
#include "hfcpp/io/safetensors.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using testing::cli;
using testing::data_path;
using testing::is_one_line_error;
using testing::squeezed_lines;
using testing::TempDir;

std::map<std::string, at::Tensor> load(const fs::path& file) {
  std::map<std::string, at::Tensor> tensors;
  for (auto& [name, tensor] : load_safetensors(file)) tensors.emplace(name, tensor.clone());
  return tensors;
}

// "1,2,3;4,5,6": the form --input-ids takes.
std::string ids_argument(const at::Tensor& ids) {
  std::string text;
  for (std::int64_t row = 0; row < ids.size(0); ++row) {
    if (row) text += ";";
    for (std::int64_t col = 0; col < ids.size(1); ++col)
      text += (col ? "," : "") + std::to_string(ids[row][col].item<std::int64_t>());
  }
  return text;
}

std::set<std::string> names_of(const std::map<std::string, at::Tensor>& tensors) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) names.insert(name);
  return names;
}

class ForwardMatchesPython : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardMatchesPython, EveryOutputTensor) {
  const fs::path folder = data_path(GetParam());
  const auto reference = load(folder / "reference.safetensors");
  TempDir dir;
  const fs::path out = dir / "out.safetensors";
  std::vector<std::string> args = {"forward", (folder / "ckpt").string(), "--out", out.string(),
                                   "--output-hidden-states", "--output-attentions",
                                   "--input-ids", ids_argument(reference.at("input_ids")),
                                   "--attention-mask", ids_argument(reference.at("attention_mask"))};
  if (reference.count("token_type_ids")) {
    args.push_back("--token-type-ids");
    args.push_back(ids_argument(reference.at("token_type_ids")));
  }
  const auto result = cli(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto written = load(out);
  // Same names (outputs, their tuples, the cache and the inputs): nothing missing, nothing extra.
  EXPECT_EQ(names_of(written), names_of(reference));
  for (const auto& [name, expected] : reference)
    if (written.count(name)) EXPECT_TRUE(testing::tensors_close(written.at(name), expected, 1e-5)) << name;
  // The summary names the class and lists every tensor with dtype and shape.
  const auto lines = squeezed_lines(result.out);
  const std::string class_name = folder.filename().string();
  EXPECT_EQ(lines[0].rfind(class_name + " (float32), input [2, 7]: loaded in ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1], "wrote " + out.string());
  EXPECT_EQ(lines[2], "tensor dtype shape");
  EXPECT_EQ(lines.size(), 3 + reference.size());
  const auto find = [&](const std::string& line) { return std::find(lines.begin(), lines.end(), line) != lines.end(); };
  EXPECT_TRUE(find("input_ids int64 [2, 7]")) << result.out;
  EXPECT_TRUE(find("attentions.0 float32 [2, 4, 7, 7]")) << result.out;
}

// Every class with a reference, except GPT2DoubleHeadsModel whose inputs are 3-D ([batch, choices,
// seq]), which the "1,2;3,4" syntax cannot express.
INSTANTIATE_TEST_SUITE_P(Classes, ForwardMatchesPython,
                         ::testing::Values("bert/BertModel", "bert/BertForMaskedLM", "bert/BertForPreTraining",
                                           "bert/BertForSequenceClassification", "bert/BertForTokenClassification",
                                           "bert/BertForQuestionAnswering", "gpt2/GPT2Model", "gpt2/GPT2LMHeadModel",
                                           "llama/LlamaModel", "llama/LlamaForCausalLM",
                                           "llama/LlamaForSequenceClassification"),
                         [](const auto& info) { return info.param.substr(info.param.find('/') + 1); });

TEST(Forward, WithoutFlagsWritesOnlyTheDefaultOutputs) {
  const fs::path folder = data_path("bert/BertForMaskedLM");
  const auto reference = load(folder / "reference.safetensors");
  TempDir dir;
  const auto result = cli({"forward", (folder / "ckpt").string(), "--out", (dir / "o.safetensors").string(),
                           "--input-ids", ids_argument(reference.at("input_ids")), "--attention-mask",
                           ids_argument(reference.at("attention_mask")), "--token-type-ids",
                           ids_argument(reference.at("token_type_ids"))});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto written = load(dir / "o.safetensors");
  EXPECT_EQ(names_of(written), (std::set<std::string>{"input_ids", "attention_mask", "token_type_ids", "logits"}));
  EXPECT_TRUE(testing::tensors_close(written.at("logits"), reference.at("logits"), 1e-5));
  // The file says what wrote it, as the reference does.
  const auto file = SafetensorsFile::open(dir / "o.safetensors");
  EXPECT_EQ(file.header().metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"cls", "BertForMaskedLM"}}));
}

TEST(Forward, TextIsTokenizedByTheModelsTokenizer) {
  TempDir dir;
  const auto result = cli({"forward", data_path("models/gpt2-arc-tofu").string(), "--text",
                           "what is sally synthetic favourite colour?", "--out", (dir / "o.safetensors").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto written = load(dir / "o.safetensors");
  // GPT-2 has no token type embeddings, so none are passed; the model's cache is an output.
  EXPECT_EQ(names_of(written), (std::set<std::string>{"input_ids", "attention_mask", "logits", "past_key_values.0.0",
                                                     "past_key_values.0.1"}));
  EXPECT_TRUE(testing::tensors_equal(
      written.at("input_ids"), at::tensor(std::vector<std::int64_t>{328, 220, 289, 220, 339, 220, 347, 220, 344, 220, 348, 30}).view({1, 12})));
  // Last-position logits from the model's SOURCE.md (an independent numpy forward, 5 decimals).
  const at::Tensor expected = at::tensor(std::vector<float>{-11.40208f, -11.23587f, -11.39375f, -11.35593f, -11.58856f});
  EXPECT_TRUE(testing::tensors_close(written.at("logits")[0][11].slice(0, 0, 5), expected, 1e-4));
}

TEST(Forward, BFloat16WritesBFloat16Outputs) {
  TempDir dir;
  const auto result = cli({"forward", data_path("models/gpt2-arc-tofu").string(), "--input-ids", "328,220,289",
                           "--dtype", "bfloat16", "--out", (dir / "o.safetensors").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(squeezed_lines(result.out)[0].rfind("GPT2LMHeadModel (bfloat16), input [1, 3]: ", 0), 0u) << result.out;
  const auto written = load(dir / "o.safetensors");
  EXPECT_EQ(written.at("logits").scalar_type(), at::kBFloat16);
  EXPECT_EQ(written.at("input_ids").scalar_type(), at::kLong);
}

TEST(Forward, Errors) {
  TempDir dir;
  const std::string bert = data_path("bert/BertModel/ckpt").string();
  const std::string out = (dir / "o.safetensors").string();
  EXPECT_TRUE(is_one_line_error(cli({"forward", bert, "--out", out}), "give either --input-ids or --text"));
  EXPECT_TRUE(is_one_line_error(cli({"forward", bert, "--out", out, "--input-ids", "1,2,3;4,5"}),
                                "--input-ids: row 1 has 2 ids but row 0 has 3 (rows must be equally long)"));
  EXPECT_TRUE(is_one_line_error(cli({"forward", bert, "--out", out, "--input-ids", "1,2,3", "--attention-mask", "1,1"}),
                                "--attention-mask has shape [1, 2] but --input-ids has [1, 3]"));
  EXPECT_TRUE(is_one_line_error(cli({"forward", bert, "--out", out, "--input-ids", "1,2,99"}),
                                "input ids must lie in [0, 99) (the model's vocab_size); got 1..99"));
  EXPECT_TRUE(testing::is_one_line_error_starting(
      cli({"forward", bert, "--out", out, "--input-ids", "1,2", "--class", "NoSuchModel"}),
      "unknown model class 'NoSuchModel' (known: BertForMaskedLM, BertForPreTraining, "));
  EXPECT_FALSE(fs::exists(out));  // nothing written by a failed run
  const auto missing_out = cli({"forward", bert, "--input-ids", "1,2"});
  EXPECT_EQ(missing_out.exit_code, 106);  // CLI11's RequiredError
  EXPECT_EQ(missing_out.err, "hfcpp: error: --out is required (see hfcpp forward --help)\n");
}

}  // namespace
}  // namespace hfcpp
