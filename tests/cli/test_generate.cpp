// `hfcpp generate`: the trained GPT-2 answers its training questions (alone, streamed, and in a
// left-padded batch), token ids match Python Transformers' generate() on the fixture models, and
// the failure modes give one clear line.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>

#include "cli_support.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using nlohmann::json;
using testing::cli;
using testing::data_path;
using testing::is_one_line_error;
using testing::squeezed_lines;

const std::string kTofu = data_path("models/gpt2-arc-tofu").string();
const std::string kSally = "what is sally synthetic favourite colour?";
const std::string kMagic = "who wrote magic?";
// Prompt ids and greedy continuations from the model's SOURCE.md (an independent numpy GPT-2).
const std::vector<std::int64_t> kSallyIds = {328, 220, 289, 220, 339, 220, 347, 220, 344, 220, 348, 30};
const std::vector<std::int64_t> kMagicIds = {327, 220, 311, 220, 337, 30};

const std::regex kStats(R"(load [0-9]+\.[0-9] ms, prompt ([0-9]+) tokens at [0-9]+\.[0-9] tokens/s, )"
                        R"(decode ([0-9]+) tokens at [0-9]+\.[0-9] tokens/s)");

TEST(Generate, OnePromptStreamsTheAnswerThenTheTimings) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--max-new-tokens", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto lines = squeezed_lines(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_EQ(lines[0], kSally + " red favourite");
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[1], match, kStats)) << lines[1];
  EXPECT_EQ(match[1], "12");  // prompt tokens
  EXPECT_EQ(match[2], "3");   // decode tokens: all but the first, which the prompt step produces
}

TEST(Generate, SeveralPromptsFormALeftPaddedBatchWithTheSameAnswers) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--prompt", kMagic, "--max-new-tokens", "4", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto out = json::parse(result.out);
  EXPECT_EQ(out["class"], "GPT2LMHeadModel");
  EXPECT_EQ(out["dtype"], "float32");
  ASSERT_EQ(out["results"].size(), 2u);
  EXPECT_EQ(out["results"][0], json({{"prompt", kSally},
                                     {"prompt_ids", kSallyIds},
                                     {"generated_ids", {220, 320, 220, 344}},
                                     {"text", " red favourite"}}));
  EXPECT_EQ(out["results"][1], json({{"prompt", kMagic},
                                     {"prompt_ids", kMagicIds},
                                     {"generated_ids", {220, 332, 220, 317}},
                                     {"text", " frank fake"}}));
  EXPECT_EQ(out["timings"]["prompt_tokens"], 18);
  EXPECT_EQ(out["timings"]["decode_tokens"], 6);
  EXPECT_GT(out["timings"]["load_s"].get<double>(), 0.0);
}

TEST(Generate, BatchAsTextPrintsOneNumberedLinePerPrompt) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--prompt", kMagic, "--max-new-tokens", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = squeezed_lines(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  EXPECT_EQ(lines[0], "[0] " + kSally + " red favourite");
  EXPECT_EQ(lines[1], "[1] " + kMagic + " frank fake");
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[2], match, kStats)) << lines[2];
  EXPECT_EQ(match[1], "18");
}

// Python's generate() on the fixture checkpoints (generation.json): a batch whose second row is
// left-padded, greedy, 10 new tokens. The folders have no tokenizer, so the text is null.
void expect_python_batch(const std::string& model) {
  const auto expected = json::parse(testing::read_file(data_path(model + "/generation.json")));
  const auto& batch = expected["batch"];
  ASSERT_EQ(expected["generate_kwargs"]["max_new_tokens"], 10);
  // Row 1 is row 0 of "single" behind two pad tokens; the CLI pads it itself.
  const auto result = cli({"generate", data_path(model + "/ckpt").string(), "--input-ids",
                           "5,17,42,8,63,21,77; 33,7,71,12,55", "--max-new-tokens", "10", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto out = json::parse(result.out);
  ASSERT_EQ(out["results"].size(), 2u);
  EXPECT_EQ(out["results"][0]["prompt_ids"], json({5, 17, 42, 8, 63, 21, 77}));
  EXPECT_EQ(out["results"][1]["prompt_ids"], json({33, 7, 71, 12, 55}));
  EXPECT_EQ(batch["input_ids"][1][2], 33);
  for (int row = 0; row < 2; ++row) {
    EXPECT_EQ(out["results"][row]["generated_ids"], batch["new_tokens"][row]) << model << " row " << row;
    EXPECT_TRUE(out["results"][row]["text"].is_null());
    EXPECT_TRUE(out["results"][row]["prompt"].is_null());
  }
}

TEST(Generate, InputIdsBatchEqualsPythonGpt2) { expect_python_batch("gpt2/GPT2LMHeadModel"); }
TEST(Generate, InputIdsBatchEqualsPythonLlama) { expect_python_batch("llama/LlamaForCausalLM"); }

TEST(Generate, InputIdsWithoutTokenizerStreamIds) {
  const auto result = cli({"generate", data_path("gpt2/GPT2LMHeadModel/ckpt").string(), "--input-ids", "33,7,71,12,55",
                           "--max-new-tokens", "10"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = squeezed_lines(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  // generation.json "single": new_tokens.
  EXPECT_EQ(lines[0], "33 7 71 12 55 89 24 21 45 85 11 75 11 11 11");
  EXPECT_TRUE(std::regex_match(lines[1], kStats)) << lines[1];
}

std::vector<std::int64_t> sample(const std::string& seed) {
  const auto result = cli({"generate", data_path("gpt2/GPT2LMHeadModel/ckpt").string(), "--input-ids", "5,17,42",
                           "--max-new-tokens", "12", "--temperature", "5", "--seed", seed, "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return json::parse(result.out)["results"][0]["generated_ids"].get<std::vector<std::int64_t>>();
}

TEST(Generate, SamplingFollowsTheSeed) {
  // Temperature 5 over 99 tokens: 12 draws from a near-uniform distribution.
  const auto a = sample("1");
  EXPECT_EQ(a.size(), 12u);
  EXPECT_EQ(sample("1"), a);
  EXPECT_NE(sample("2"), a);
}

TEST(Generate, TemperatureZeroIsGreedy) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--max-new-tokens", "4", "--temperature", "0", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(json::parse(result.out)["results"][0]["generated_ids"], json({220, 320, 220, 344}));
}

TEST(Generate, BeamSearchPrintsTheBestSequenceAndOneTimingFigure) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--max-new-tokens", "4", "--num-beams", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = squeezed_lines(result.out);
  ASSERT_EQ(lines.size(), 2u) << result.out;
  EXPECT_EQ(lines[0], kSally + " red favourite");  // the trained answer is also the likeliest pair of beams
  EXPECT_TRUE(std::regex_match(lines[1], std::regex(R"(load [0-9.]+ ms, prompt 12 tokens at [0-9.]+ tokens/s, )"
                                                    R"(generate 4 steps x 2 beams in [0-9.]+ ms)")))
      << lines[1];
}

TEST(Generate, BFloat16LoadGivesTheSameGreedyAnswer) {
  const auto result = cli({"generate", kTofu, "--prompt", kSally, "--max-new-tokens", "4", "--dtype", "bfloat16", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto out = json::parse(result.out);
  EXPECT_EQ(out["dtype"], "bfloat16");
  EXPECT_EQ(out["results"][0]["text"], " red favourite");
}

TEST(Generate, Errors) {
  EXPECT_TRUE(is_one_line_error(cli({"generate", "openai-community/gpt2", "--prompt", "hi"}),
                                "openai-community/gpt2: no such folder, and Hub download not supported yet "
                                "(pass a local model folder)"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", "./no/such/folder", "--prompt", "hi"}), "./no/such/folder: no such folder"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu}), "give either --prompt or --input-ids"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu, "--prompt", "a", "--input-ids", "1"}),
                                "give either --prompt or --input-ids"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu, "--input-ids", "1,x"}),
                                "--input-ids \"1,x\": 'x' is not an integer (expected e.g. \"1,2,3;4,5\")"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu, "--input-ids", "1,350"}),
                                "--input-ids: 350 is not a token id of this model (vocab_size 350)"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu, "--prompt", kSally, "--max-new-tokens", "29"}),
                                "--max-new-tokens 29 with a 12-token prompt exceeds the 40 positions the model handles "
                                "(max_position_embeddings)"));
  EXPECT_TRUE(testing::is_one_line_error_starting(
      cli({"generate", data_path("bert/BertModel/ckpt").string(), "--input-ids", "1,2"}),
      "AutoModelForCausalLM has no model for model_type 'bert' (supported: gpt2, llama"));
  EXPECT_TRUE(is_one_line_error(
      cli({"generate", data_path("bert/BertForMaskedLM/ckpt").string(), "--input-ids", "1,2", "--class", "BertModel"}),
      "--class BertModel cannot generate text (choose a ...ForCausalLM/LMHead class)"));
  // The GPT-2 fixture folder has weights but no tokenizer: text prompts need one.
  const auto no_tokenizer = cli({"generate", data_path("gpt2/GPT2LMHeadModel/ckpt").string(), "--prompt", "hi"});
  EXPECT_TRUE(is_one_line_error(no_tokenizer, data_path("gpt2/GPT2LMHeadModel/ckpt").string() +
                                                  ": no tokenizer.json, vocab.json + merges.txt or vocab.txt"));
  EXPECT_TRUE(is_one_line_error(cli({"generate", kTofu, "--prompt", "a", "--dtype", "int8"}),
                                "--dtype: int8 not in {auto,float32,bfloat16,float16} (see hfcpp generate --help)"));
}

}  // namespace
}  // namespace hfcpp
