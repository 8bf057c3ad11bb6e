// The TinyLLama-v0 tokenizer.json: BPE with byte fallback, Prepend/Replace normalizers, a
// Replace/ByteFallback/Fuse/Strip decoder and a <s> template.
//
// Expected ids come from tests/data/tokenizers/llama-tinyllama-v0-tokenizer-only/derive_expected.py,
// an independent textbook BPE over the same vocab/merges (merge the lowest-ranked pair until none
// applies; unknown characters become <0xXX> byte tokens), checked by hand against the vocab:
// "▁Hello" = 16644, "▁world" = 924, "<0xC3>" = 198, "▁" = 31822.
#include "tokenizer_test_support.h"

namespace hfcpp::testing {
namespace {

const Tokenizer& llama() {
  static const Tokenizer tok = AutoTokenizer::from_pretrained(tokenizer_data("llama-tinyllama-v0-tokenizer-only"));
  return tok;
}

TEST(LlamaTokenizer, MatchesHandDerivedIds) {
  const Tokenizer& tok = llama();
  EXPECT_EQ(tok.encode("Hello world").ids, (std::vector<std::int64_t>{1, 16644, 924}));
  EXPECT_EQ(tok.encode("Hello world").tokens, (std::vector<std::string>{"<s>", "▁Hello", "▁world"}));
  EXPECT_EQ(tok.encode("Once upon a time, there was a little girl.").ids,
            (std::vector<std::int64_t>{1, 4612, 2619, 260, 647, 31844, 635, 393, 260, 1496, 2789, 31843}));
  EXPECT_EQ(tok.encode("naïve café 日本 🤗").ids,
            (std::vector<std::int64_t>{1, 7561, 198, 178, 316, 29371, 31822, 233, 154, 168, 233, 159, 175,
                                       31822, 243, 162, 167, 154}));
  EXPECT_EQ(tok.encode("  two  spaces").ids, (std::vector<std::int64_t>{1, 31822, 31822, 753, 31822, 7158}));
  EXPECT_EQ(tok.encode("Hello world", false).ids, (std::vector<std::int64_t>{16644, 924}));
}

TEST(LlamaTokenizer, SpecialTokensAndSettings) {
  const Tokenizer& tok = llama();
  EXPECT_EQ(tok.vocab_size(), 32000u);
  EXPECT_EQ(tok.bos_token_id(), 1);
  EXPECT_EQ(tok.eos_token_id(), 2);
  EXPECT_EQ(tok.unk_token_id(), 0);
  EXPECT_EQ(tok.pad_token_id(), std::nullopt);
  EXPECT_TRUE(tok.add_bos_token());
  EXPECT_FALSE(tok.add_eos_token());
  EXPECT_EQ(tok.model_max_length(), 2048u);
}

TEST(LlamaTokenizer, RoundTripsTextIncludingByteFallback) {
  const Tokenizer& tok = llama();
  for (const std::string text : {"Hello world", "naïve café 日本 🤗", "Ελληνικά και русский",
                                 "emoji 👨‍👩‍👧‍👦 and ❤️", "  two  spaces", "tabs\tand\nnewlines",
                                 "中文分词测试", "Ångström résumé façade", "x"}) {
    SCOPED_TRACE(text);
    const Encoding e = tok.encode(text);
    EXPECT_EQ(e.ids.front(), 1);
    EXPECT_EQ(tok.decode(e.ids, true), text);
  }
}

TEST(LlamaTokenizer, DecodesLikeTransformers) {
  const Tokenizer& tok = llama();
  EXPECT_EQ(tok.decode(std::vector<std::int64_t>{1, 16644, 924}), "<s> Hello world");
  EXPECT_EQ(tok.decode(std::vector<std::int64_t>{1, 16644, 924, 2}, true), "Hello world");
  // A lone continuation byte cannot be UTF-8: one U+FFFD per byte, as the ByteFallback decoder does.
  EXPECT_EQ(tok.decode(std::vector<std::int64_t>{178, 178}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(LlamaTokenizer, OffsetsPointIntoTheInput) {
  const Tokenizer& tok = llama();
  const std::string text = "Hello world";
  const Encoding e = tok.encode(text);
  ASSERT_EQ(e.offsets.size(), 3u);
  EXPECT_EQ(e.offsets[0], (Offset{0, 0}));   // <s>
  EXPECT_EQ(e.offsets[1], (Offset{0, 5}));   // "▁Hello": the prepended ▁ aligns with "H"
  EXPECT_EQ(e.offsets[2], (Offset{5, 11}));  // "▁world": the ▁ is the space
  EXPECT_EQ(e.special_tokens_mask, (std::vector<std::int64_t>{1, 0, 0}));
}

TEST(LlamaTokenizer, AddBosAndEosOptions) {
  const auto dir = tokenizer_data("llama-tinyllama-v0-tokenizer-only");
  const Tokenizer both = AutoTokenizer::from_pretrained(dir, {.add_eos_token = true});
  EXPECT_EQ(both.encode("Hello world").ids, (std::vector<std::int64_t>{1, 16644, 924, 2}));
  const Tokenizer none = AutoTokenizer::from_pretrained(dir, {.add_bos_token = false});
  EXPECT_EQ(none.encode("Hello world").ids, (std::vector<std::int64_t>{16644, 924}));
  EXPECT_FALSE(none.add_bos_token());
  const Tokenizer no_prefix = AutoTokenizer::from_pretrained(dir, {.add_prefix_space = false});
  EXPECT_EQ(no_prefix.encode("Hello", false).tokens.front().rfind("▁", 0), std::string::npos);
}

TEST(LlamaTokenizer, SpecialTokenInTextIsMatchedAfterNormalization) {
  // <s> is normalized=true, so it is matched in the normalized text ("▁<s>"), as in HF tokenizers.
  const Tokenizer& tok = llama();
  const Encoding e = tok.encode("Hello <s> world", false);
  EXPECT_NE(std::find(e.ids.begin(), e.ids.end(), 1), e.ids.end());
}

}  // namespace
}  // namespace hfcpp::testing
