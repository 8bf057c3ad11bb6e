// `hfcpp encode` / `hfcpp decode` against the ids and texts Python Transformers gives
// (tests/data/tokenizers/expected/*.json).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using nlohmann::json;
using testing::cli;
using testing::data_path;
using testing::is_one_line_error;

const std::string kBert = data_path("tokenizers/bert-caikit-random").string();
const std::string kGpt2 = data_path("tokenizers/gpt2-tokenizer").string();

json expected_sentence(const std::string& tokenizer, std::size_t index) {
  return json::parse(testing::read_file(data_path("tokenizers/expected/" + tokenizer + ".json")))["sentences"][index];
}

std::string comma_separated(const json& ids) {
  std::string text;
  for (const auto& id : ids) text += (text.empty() ? "" : ",") + std::to_string(id.get<std::int64_t>());
  return text;
}

TEST(Encode, PrintsTheIdsPythonGivesWithAndWithoutSpecialTokens) {
  const json hello = expected_sentence("bert-caikit-random", 0);
  ASSERT_EQ(hello["text"], "Hello, world!");
  auto result = cli({"encode", kBert, "Hello, world!"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, comma_separated(hello["input_ids"]) + "\n");
  EXPECT_EQ(result.out, "2,50,795,804,804,793,16,65,793,799,804,808,5,3\n");
  result = cli({"encode", kBert, "Hello, world!", "--no-special-tokens"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, comma_separated(hello["input_ids_no_special"]) + "\n");
}

TEST(Encode, EverySentenceOfTheGpt2Fixture) {
  const json sentences = json::parse(testing::read_file(data_path("tokenizers/expected/gpt2-tokenizer.json")))["sentences"];
  for (std::size_t i = 0; i < 6; ++i) {  // ASCII, punctuation, numbers, accents, CJK
    const std::string text = sentences[i]["text"];
    const auto result = cli({"encode", kGpt2, text});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, comma_separated(sentences[i]["input_ids"]) + "\n") << text;
  }
}

TEST(Encode, JsonHasTokensCharacterOffsetsAndTheSpecialTokensMask) {
  const auto result = cli({"encode", kGpt2, "Café au", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto out = json::parse(result.out);
  EXPECT_EQ(out["ids"], json({34, 1878, 2634, 35851}));
  EXPECT_EQ(out["tokens"], json({"C", "af", "Ã©", "Ġau"}));
  // "é" is two bytes but one character: offsets count characters, as Python does.
  EXPECT_EQ(out["offsets"], json::parse("[[0, 1], [1, 3], [3, 4], [4, 7]]"));
  EXPECT_EQ(out["special_tokens_mask"], json({0, 0, 0, 0}));

  const auto bert = json::parse(cli({"encode", kBert, "Hi!", "--json"}).out);
  EXPECT_EQ(bert["tokens"], json({"[CLS]", "h", "##i", "!", "[SEP]"}));
  EXPECT_EQ(bert["offsets"], json::parse("[[0, 0], [0, 1], [1, 2], [2, 3], [0, 0]]"));
  EXPECT_EQ(bert["special_tokens_mask"], json({1, 0, 0, 0, 1}));
}

TEST(Decode, GivesPythonsTextWithAndWithoutSpecialTokens) {
  const json hello = expected_sentence("bert-caikit-random", 0);
  const std::string ids = comma_separated(hello["input_ids"]);
  auto result = cli({"decode", kBert, ids});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(result.out, hello["decode"].get<std::string>() + "\n");
  EXPECT_EQ(result.out, "[CLS] hello, world! [SEP]\n");
  result = cli({"decode", kBert, ids, "--skip-special-tokens"});
  EXPECT_EQ(result.out, hello["decode_skip_special_tokens"].get<std::string>() + "\n");
}

TEST(Decode, SeveralSequencesOneLineEach) {
  const json a = expected_sentence("gpt2-tokenizer", 0);
  const json b = expected_sentence("gpt2-tokenizer", 4);  // accents: multi-byte characters
  const auto result = cli({"decode", kGpt2, comma_separated(a["input_ids"]) + ";" + comma_separated(b["input_ids"])});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, a["decode"].get<std::string>() + "\n" + b["decode"].get<std::string>() + "\n");
}

TEST(Decode, EncodeThenDecodeRoundTripsTheTofuQuestion) {
  const std::string tofu = data_path("models/gpt2-arc-tofu").string();
  const auto ids = cli({"encode", tofu, "what is sally synthetic favourite colour?"});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, "328,220,289,220,339,220,347,220,344,220,348,30\n");  // SOURCE.md
  const auto text = cli({"decode", tofu, ids.out.substr(0, ids.out.size() - 1)});
  EXPECT_EQ(text.out, "what is sally synthetic favourite colour?\n");
}

TEST(Tokenize, Errors) {
  EXPECT_TRUE(is_one_line_error(cli({"decode", kBert, "2,99999"}),
                                "IDS: 99999 is not a token id of this tokenizer (1124 tokens)"));
  EXPECT_TRUE(is_one_line_error(cli({"decode", kBert, "2,,3"}),
                                "IDS \"2,,3\": '' is not an integer (expected e.g. \"1,2,3;4,5\")"));
  EXPECT_TRUE(is_one_line_error(cli({"decode", kBert, "2;;3"}), "IDS \"2;;3\": row 1 is empty"));
  const std::string no_tokenizer = data_path("bert/BertModel/ckpt").string();
  EXPECT_TRUE(is_one_line_error(cli({"encode", no_tokenizer, "hi"}),
                                no_tokenizer + ": no tokenizer.json, vocab.json + merges.txt or vocab.txt"));
  EXPECT_TRUE(is_one_line_error(cli({"encode", "bert-base-uncased", "hi"}),
                                "bert-base-uncased: no such folder, and Hub download not supported yet "
                                "(pass a local model folder)"));
}

}  // namespace
}  // namespace hfcpp
