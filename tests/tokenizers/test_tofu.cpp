// gpt2-arc-tofu's own 350-token byte-level BPE (vocab.json + merges.txt + added_tokens.json, no
// tokenizer.json). Expected ids are those of the folder's SOURCE.md, where a reference BPE
// written for that check produced them; the model was trained on exactly these ids.
#include "tokenizer_test_support.h"

namespace hfcpp::testing {
namespace {

const Tokenizer& tofu() {
  static const Tokenizer tok = AutoTokenizer::from_pretrained(tokenizer_data("gpt2-arc-tofu"));
  return tok;
}

TEST(TofuTokenizer, EncodesTheDemoQuestions) {
  const Tokenizer& tok = tofu();
  EXPECT_EQ(tok.encode("what is sally synthetic favourite colour?").ids,
            (std::vector<std::int64_t>{328, 220, 289, 220, 339, 220, 347, 220, 344, 220, 348, 30}));
  EXPECT_EQ(tok.encode("what genre does frank fake write?").ids,
            (std::vector<std::int64_t>{328, 220, 333, 220, 323, 220, 332, 220, 317, 220, 310, 30}));
  EXPECT_EQ(tok.encode("who wrote magic?").ids, (std::vector<std::int64_t>{327, 220, 311, 220, 337, 30}));
  EXPECT_EQ(tok.encode(" red").ids, (std::vector<std::int64_t>{220, 320}));
}

TEST(TofuTokenizer, SettingsFromItsConfigFiles) {
  const Tokenizer& tok = tofu();
  EXPECT_EQ(tok.vocab_size(), 349u);  // vocab.json; <|endoftext|> comes from added_tokens.json
  EXPECT_EQ(tok.size(), 350u);
  EXPECT_EQ(tok.eos_token_id(), 349);
  EXPECT_EQ(tok.bos_token_id(), 349);
  EXPECT_EQ(tok.pad_token_id(), std::nullopt);
  EXPECT_FALSE(tok.add_bos_token());
  EXPECT_TRUE(tok.clean_up_tokenization_spaces());
  EXPECT_EQ(tok.model_max_length(), 40u);
  EXPECT_EQ(tok.all_special_ids(), (std::vector<std::int64_t>{349}));
}

TEST(TofuTokenizer, DecodesBack) {
  const Tokenizer& tok = tofu();
  const std::string question = "what is sally synthetic favourite colour?";
  auto ids = tok.encode(question).ids;
  EXPECT_EQ(tok.decode(ids), question);
  ids.push_back(349);
  EXPECT_EQ(tok.decode(ids), question + "<|endoftext|>");
  EXPECT_EQ(tok.decode(ids, true), question);
  // Greedy answer of the trained model (SOURCE.md): " red favourite".
  EXPECT_EQ(tok.decode(std::vector<std::int64_t>{220, 320, 220, 344}), " red favourite");
  EXPECT_EQ(tok.encode("red<|endoftext|>").ids, (std::vector<std::int64_t>{320, 349}));
}

}  // namespace
}  // namespace hfcpp::testing
