// BERT and GPT-2 against the outputs of Python Transformers' slow tokenizers
// (tests/data/tokenizers/expected/*.json, 32 sentences each), through both file formats.
#include "tokenizer_test_support.h"

namespace hfcpp::testing {
namespace {

struct Case {
  const char* name;
  const char* folder;
  bool use_fast;  // true: tokenizer.json, false: vocab.txt / vocab.json + merges.txt
  const char* expected;
};

class FixtureParity : public ::testing::TestWithParam<Case> {};

void expect_sentence(const Tokenizer& tok, const nlohmann::json& s) {
  const std::string text = s["text"];
  SCOPED_TRACE("text: " + s["text"].dump());
  const Encoding with_special = tok.encode(text);
  const Encoding without_special = tok.encode(text, false);
  EXPECT_EQ(with_special.ids, ids_of(s["input_ids"]));
  EXPECT_EQ(without_special.ids, ids_of(s["input_ids_no_special"]));
  EXPECT_EQ(tok.tokenize(text), s["tokens"].get<std::vector<std::string>>());
  EXPECT_EQ(with_special.tokens, s["tokens_with_special"].get<std::vector<std::string>>());
  EXPECT_EQ(tok.convert_ids_to_tokens(ids_of(s["input_ids"])),
            s["tokens_with_special"].get<std::vector<std::string>>());
  EXPECT_EQ(tok.decode(ids_of(s["input_ids"])), s["decode"].get<std::string>());
  EXPECT_EQ(tok.decode(ids_of(s["input_ids"]), true), s["decode_skip_special_tokens"].get<std::string>());
  EXPECT_EQ(tok.decode(ids_of(s["input_ids_no_special"])), s["decode_no_special"].get<std::string>());
  // Every encoding is self-consistent.
  const std::size_t n = with_special.size();
  EXPECT_EQ(with_special.attention_mask, std::vector<std::int64_t>(n, 1));
  EXPECT_EQ(with_special.offsets.size(), n);
  for (const Offset& o : without_special.offsets) {
    EXPECT_LE(o.start, o.end);
    EXPECT_LE(o.end, text.size());
  }
}

TEST_P(FixtureParity, EverySentenceMatchesTransformers) {
  const Case& c = GetParam();
  const nlohmann::json expected = read_json(tokenizer_data(std::string("expected/") + c.expected));
  const Tokenizer tok = AutoTokenizer::from_pretrained(tokenizer_data(c.folder), {.use_fast = c.use_fast});
  EXPECT_EQ(tok.vocab_size(), expected["vocab_size"].get<std::size_t>());
  EXPECT_EQ(tok.size(), expected["len"].get<std::size_t>());
  for (const auto& [name, token_and_id] : expected["special_tokens"].items()) {
    const std::string token = token_and_id[0];
    EXPECT_EQ(tok.token_to_id(token), token_and_id[1].get<std::int64_t>()) << name;
  }
  ASSERT_EQ(expected["sentences"].size(), 32u);
  for (const auto& sentence : expected["sentences"]) expect_sentence(tok, sentence);
}

INSTANTIATE_TEST_SUITE_P(
    Tokenizers, FixtureParity,
    ::testing::Values(Case{"bert_tokenizer_json", "bert-caikit-random", true, "bert-caikit-random.json"},
                      Case{"bert_vocab_txt", "bert-caikit-random", false, "bert-caikit-random.json"},
                      Case{"gpt2_tokenizer_json", "gpt2-tokenizer", true, "gpt2-tokenizer.json"},
                      Case{"gpt2_vocab_json_merges", "gpt2-tokenizer", false, "gpt2-tokenizer.json"}),
    [](const auto& info) { return std::string(info.param.name); });

class Gpt2Variants : public ::testing::TestWithParam<bool> {};

TEST_P(Gpt2Variants, AddBosTokenAndAddPrefixSpaceMatchTheSlowTokenizer) {
  const bool use_fast = GetParam();
  const nlohmann::json expected = read_json(tokenizer_data("expected/gpt2-tokenizer.json"));
  const auto dir = tokenizer_data("gpt2-tokenizer");
  const Tokenizer with_bos = AutoTokenizer::from_pretrained(dir, {.add_bos_token = true, .use_fast = use_fast});
  const Tokenizer with_space = AutoTokenizer::from_pretrained(dir, {.add_prefix_space = true, .use_fast = use_fast});
  EXPECT_TRUE(with_bos.add_bos_token());
  for (const auto& s : expected["sentences"]) {
    const std::string text = s["text"];
    SCOPED_TRACE("text: " + s["text"].dump());
    EXPECT_EQ(with_bos.encode(text).ids, ids_of(s["input_ids_add_bos_token"]));
    EXPECT_EQ(with_bos.encode(text, false).ids, ids_of(s["input_ids_no_special"]));
    EXPECT_EQ(with_space.encode(text).ids, ids_of(s["input_ids_add_prefix_space"]));
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Gpt2Variants, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "tokenizer_json" : "vocab_json_merges"; });

TEST(FixtureParity, BothGpt2FormatsGiveTheSameOffsets) {
  const auto dir = tokenizer_data("gpt2-tokenizer");
  const Tokenizer fast = AutoTokenizer::from_pretrained(dir);
  const Tokenizer slow = AutoTokenizer::from_pretrained(dir, {.use_fast = false});
  const std::string text = "Héllo wörld, 日本語 <|endoftext|> done";
  const Encoding a = fast.encode(text), b = slow.encode(text);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.offsets, b.offsets);
}

}  // namespace
}  // namespace hfcpp::testing

namespace hfcpp::testing {
namespace {

// The byte-level fast path (no normalizer + ByteLevel + BPE) against the general pipeline.
TEST(FixtureParity, ByteLevelFastPathEqualsGeneralPipeline) {
  const auto dir = tokenizer_data("gpt2-tokenizer");
  const Tokenizer fast = AutoTokenizer::from_pretrained(dir);
  ::setenv("HFCPP_TOKENIZERS_NO_FAST_PATH", "1", 1);
  const Tokenizer general = AutoTokenizer::from_pretrained(dir);
  ::unsetenv("HFCPP_TOKENIZERS_NO_FAST_PATH");
  const nlohmann::json expected = read_json(tokenizer_data("expected/gpt2-tokenizer.json"));
  std::vector<std::string> texts;
  for (const auto& s : expected["sentences"]) texts.push_back(s["text"]);
  texts.push_back("x<|endoftext|><|endoftext|> y\xC3\xA9<|endoftext|>");
  std::string all;
  for (const auto& t : texts) all += t + "\n";
  texts.push_back(all);
  for (const auto& text : texts) {
    SCOPED_TRACE(text);
    const Encoding a = fast.encode(text), b = general.encode(text);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.offsets, b.offsets);
    EXPECT_EQ(a.word_ids, b.word_ids);
  }
}

}  // namespace
}  // namespace hfcpp::testing
