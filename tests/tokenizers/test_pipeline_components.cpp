// Normalizers, pre-tokenizers, models, decoders and added-token rules, each through a small
// inline tokenizer.json; expected values follow the Rust tokenizers' documented behaviour.
#include "hfcpp/error.h"
#include "tokenizer_test_support.h"

namespace hfcpp::testing {
namespace {

using json = nlohmann::json;

// A tokenizer whose WordLevel model maps every pre-token to <unk>, so each token's offsets show
// one pre-token; returns the pieces of `text` they cover.
std::vector<std::string> pre_tokens(const json& pre_tokenizer, const std::string& text,
                                    const json& normalizer = nullptr) {
  json j;
  j["model"] = {{"type", "WordLevel"}, {"vocab", {{"<unk>", 0}}}, {"unk_token", "<unk>"}};
  j["pre_tokenizer"] = pre_tokenizer;
  j["normalizer"] = normalizer;
  const Encoding e = tokenizer_from(j).encode(text);
  std::vector<std::string> pieces;
  for (const Offset& o : e.offsets) pieces.push_back(text.substr(o.start, o.end - o.start));
  return pieces;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizers, SplitBehaviours) {
  const auto split = [](const char* behavior) {
    return pre_tokens({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}},
                      "the-final--countdown");
  };
  EXPECT_EQ(split("Removed"), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Pieces{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(pre_tokens({{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Removed"}, {"invert", true}},
                       "keep  only spaces"),
            (Pieces{"  ", " "}));
}

TEST(PreTokenizers, WordSplitters) {
  const std::string text = "Hey friend!     How are you?!?";
  EXPECT_EQ(pre_tokens({{"type", "Whitespace"}}, text), (Pieces{"Hey", "friend", "!", "How", "are", "you", "?!?"}));
  EXPECT_EQ(pre_tokens({{"type", "WhitespaceSplit"}}, text), (Pieces{"Hey", "friend!", "How", "are", "you?!?"}));
  EXPECT_EQ(pre_tokens({{"type", "BertPreTokenizer"}}, text),
            (Pieces{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
  EXPECT_EQ(pre_tokens({{"type", "Punctuation"}, {"behavior", "Isolated"}}, "Hey, you!"),
            (Pieces{"Hey", ",", " you", "!"}));
  EXPECT_EQ(pre_tokens({{"type", "Digits"}, {"individual_digits", true}}, "Call 123 please"),
            (Pieces{"Call ", "1", "2", "3", " please"}));
  EXPECT_EQ(pre_tokens({{"type", "Digits"}, {"individual_digits", false}}, "Call 123 please"),
            (Pieces{"Call ", "123", " please"}));
  EXPECT_EQ(pre_tokens({{"type", "Sequence"},
                        {"pretokenizers", json::array({json{{"type", "WhitespaceSplit"}},
                                                       json{{"type", "Digits"}, {"individual_digits", true}}})}},
                       "a12 b"),
            (Pieces{"a", "1", "2", "b"}));
}

TEST(PreTokenizers, MetaspaceAndByteLevelOffsets) {
  const json metaspace = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(pre_tokens(metaspace, "Hey friend!"), (Pieces{"Hey", " friend!"}));
  const json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  EXPECT_EQ(pre_tokens(byte_level, "Hello, my friend 42!!"), (Pieces{"Hello", ",", " my", " friend", " 42", "!!"}));
  EXPECT_EQ(pre_tokens(byte_level, "héllo  you"), (Pieces{"héllo", " ", " you"}));
}

// A WordLevel tokenizer with the given normalizer over a vocabulary of `words`; returns the
// tokens it produces (<unk> for pieces outside the vocabulary).
std::vector<std::string> normalized_tokens(const json& normalizer, const std::string& text,
                                           const std::vector<std::string>& words) {
  json vocab = {{"<unk>", 0}};
  for (std::size_t i = 0; i < words.size(); ++i) vocab[words[i]] = i + 1;
  json j;
  j["model"] = {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", "<unk>"}};
  j["normalizer"] = normalizer;
  j["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  return tokenizer_from(j).tokenize(text);
}

TEST(Normalizers, UnicodeFormsCaseAndAccents) {
  EXPECT_EQ(normalized_tokens({{"type", "NFKC"}}, "ﬁne ①", {"fine", "1"}), (Pieces{"fine", "1"}));
  EXPECT_EQ(normalized_tokens({{"type", "NFC"}}, "cafe\xCC\x81", {"café"}), (Pieces{"café"}));
  EXPECT_EQ(normalized_tokens({{"type", "NFD"}}, "café", {"cafe\xCC\x81"}), (Pieces{"cafe\xCC\x81"}));
  EXPECT_EQ(normalized_tokens({{"type", "Lowercase"}}, "HÉLLO İ", {"héllo", "i\xCC\x87"}), (Pieces{"héllo", "i\xCC\x87"}));
  EXPECT_EQ(normalized_tokens({{"type", "Sequence"},
                               {"normalizers", json::array({json{{"type", "NFD"}}, json{{"type", "StripAccents"}}})}},
                              "Ångström", {"Angstrom"}),
            (Pieces{"Angstrom"}));
  EXPECT_EQ(normalized_tokens({{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                               {"strip_accents", nullptr}, {"lowercase", true}},
                              "Héllo\x07中文", {"hello", "中", "文"}),
            (Pieces{"hello", "中", "文"}));
  EXPECT_EQ(normalized_tokens({{"type", "Replace"}, {"pattern", {{"Regex", "[0-9]+"}}}, {"content", "#"}}, "a12 b3",
                              {"a#", "b#"}),
            (Pieces{"a#", "b#"}));
  EXPECT_EQ(normalized_tokens({{"type", "Prepend"}, {"prepend", "_"}}, "x", {"_x"}), (Pieces{"_x"}));
}

TEST(Normalizers, OffsetsStayInTheOriginalText) {
  json j;
  j["model"] = {{"type", "WordLevel"}, {"vocab", {{"<unk>", 0}, {"cafe", 1}, {"ok", 2}}}, {"unk_token", "<unk>"}};
  j["normalizer"] = {{"type", "BertNormalizer"}, {"lowercase", true}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  const std::string text = "  CAFÉ ok";
  const Encoding e = tokenizer_from(j).encode(text);
  EXPECT_EQ(e.tokens, (Pieces{"cafe", "ok"}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{{2, 7}, {8, 10}}));  // "CAFÉ" is 5 bytes
  EXPECT_EQ(to_char_offsets(text, e.offsets), (std::vector<Offset>{{2, 6}, {7, 9}}));
}

TEST(Models, BpeOptions) {
  json j;
  j["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  j["model"] = json::parse(R"({"type": "BPE", "continuing_subword_prefix": "##",
      "vocab": {"a": 0, "##b": 1, "##c": 2, "ab": 3, "abc": 4}, "merges": ["a ##b", "ab ##c"]})");
  EXPECT_EQ(tokenizer_from(j).tokenize("abc ab"), (Pieces{"abc", "ab"}));
  j["model"] = json::parse(R"({"type": "BPE", "end_of_word_suffix": "</w>",
      "vocab": {"a": 0, "b</w>": 1, "ab</w>": 2, "b": 3}, "merges": [["a", "b</w>"]]})");
  // "a</w>" is not in the vocabulary and there is no unk_token: the character is dropped.
  EXPECT_EQ(tokenizer_from(j).tokenize("ab ba"), (Pieces{"ab</w>", "b"}));
  EXPECT_EQ(tokenizer_from(j).tokenize("ab"), (Pieces{"ab</w>"}));
  j["model"] = json::parse(R"({"type": "BPE", "unk_token": "<unk>", "fuse_unk": true,
      "vocab": {"a": 0, "<unk>": 1}, "merges": []})");
  EXPECT_EQ(tokenizer_from(j).encode("xxa").ids, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(tokenizer_from(j).encode("xxa").offsets, (std::vector<Offset>{{0, 2}, {2, 3}}));
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(tokenizer_from(j).encode("xxa").ids, (std::vector<std::int64_t>{1, 1, 0}));
  j["model"] = json::parse(R"({"type": "BPE", "ignore_merges": true,
      "vocab": {"a": 0, "b": 1, "c": 2, "abc": 3}, "merges": []})");
  EXPECT_EQ(tokenizer_from(j).encode("abc").ids, (std::vector<std::int64_t>{3}));
  j["model"]["ignore_merges"] = false;
  EXPECT_EQ(tokenizer_from(j).encode("abc").ids, (std::vector<std::int64_t>{0, 1, 2}));
  // Merge order follows rank, not position: "b c" (rank 0) wins over "a b" (rank 1).
  j["model"] = json::parse(R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "bc": 3, "ab": 4},
      "merges": ["b c", "a b"]})");
  EXPECT_EQ(tokenizer_from(j).tokenize("abc"), (Pieces{"a", "bc"}));
}

TEST(Models, UnigramViterbiAndByteFallback) {
  json j;
  j["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  j["model"] = json::parse(R"({"type": "Unigram", "unk_id": 0, "byte_fallback": false,
      "vocab": [["<unk>", 0.0], ["a", -2.0], ["b", -2.0], ["ab", -3.0], ["c", -1.0]]})");
  EXPECT_EQ(tokenizer_from(j).tokenize("ab"), (Pieces{"ab"}));  // -3 beats -4
  j["model"]["vocab"][3][1] = -5.0;
  EXPECT_EQ(tokenizer_from(j).tokenize("ab"), (Pieces{"a", "b"}));  // -4 beats -5
  // Unknown characters are fused into one <unk> carrying their text.
  const Encoding e = tokenizer_from(j).encode("axyc");
  EXPECT_EQ(e.ids, (std::vector<std::int64_t>{1, 0, 4}));
  EXPECT_EQ(e.tokens, (Pieces{"a", "xy", "c"}));
  j["model"] = json::parse(R"({"type": "Unigram", "unk_id": 0, "byte_fallback": true,
      "vocab": [["<unk>", 0.0], ["a", -1.0], ["<0xC3>", -1.0], ["<0xA9>", -1.0]]})");
  EXPECT_EQ(tokenizer_from(j).encode("aé").ids, (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(Models, WordPieceLongWordsAndUnknownPieces) {
  json j;
  j["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  j["model"] = json::parse(R"({"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
      "max_input_chars_per_word": 5, "vocab": {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "a": 4}})");
  const Tokenizer tok = tokenizer_from(j);
  EXPECT_EQ(tok.tokenize("un"), (Pieces{"un"}));
  EXPECT_EQ(tok.tokenize("unaff"), (Pieces{"un", "##aff"}));
  EXPECT_EQ(tok.tokenize("unaffable"), (Pieces{"[UNK]"}));  // longer than 5 characters
  EXPECT_EQ(tok.tokenize("unx a"), (Pieces{"[UNK]", "a"}));
}

// Decodes `tokens` (ids of a vocabulary made of them) with the given decoder.
std::string decode_with(const json& decoder, const Pieces& tokens) {
  json vocab = json::object();
  std::vector<std::int64_t> ids;
  for (const auto& token : tokens) {
    if (!vocab.contains(token)) vocab[token] = vocab.size();
    ids.push_back(vocab[token].get<std::int64_t>());
  }
  json j;
  j["model"] = {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", tokens.front()}};
  j["decoder"] = decoder;
  return tokenizer_from(j).decode(ids);
}

TEST(Decoders, EachDecoderFamily) {
  EXPECT_EQ(decode_with({{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}},
                        {"hello", "##s", ",", "i", "do", "not", "know", "."}),
            "hellos, i do not know.");  // cleanup is per token: " do not" spans three tokens
  EXPECT_EQ(decode_with({{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}, {"a", "do not", "b", "'s"}),
            "a don't b's");
  EXPECT_EQ(decode_with({{"type", "BPEDecoder"}, {"suffix", "</w>"}}, {"hel", "lo</w>", "you</w>"}), "hello you");
  EXPECT_EQ(decode_with({{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}},
                        {"▁Hey", "▁friend", "!"}),
            "Hey friend!");
  EXPECT_EQ(decode_with({{"type", "ByteLevel"}}, {"Hello", "Ġw", "Ã¶", "rld", "<|endoftext|>"}),
            "Hello wörld<|endoftext|>");
  EXPECT_EQ(decode_with(json::parse(R"({"type": "Sequence", "decoders": [
                          {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                          {"type": "ByteFallback"}, {"type": "Fuse"},
                          {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})"),
                        {"▁caf", "<0xC3>", "<0xA9>", "▁ok", "<0xFF>"}),
            "café ok\xEF\xBF\xBD");
  EXPECT_EQ(decode_with({{"type", "Strip"}, {"content", "x"}, {"start", 2}, {"stop", 5}}, {"xxxaxx"}), "xa");
}

TEST(AddedTokens, LstripRstripSingleWordAndNormalized) {
  json j;
  j["model"] = {{"type", "WordLevel"}, {"vocab", {{"<unk>", 0}, {"hello", 1}, {"world", 2}}}, {"unk_token", "<unk>"}};
  j["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  j["normalizer"] = {{"type", "Lowercase"}};
  j["added_tokens"] = json::parse(R"([
    {"id": 10, "content": "[MASK]", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
    {"id": 11, "content": "ab", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false},
    {"id": 12, "content": "Foo", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}])");
  const Tokenizer tok = tokenizer_from(j);
  const Encoding e = tok.encode("hello [MASK] world");
  EXPECT_EQ(e.ids, (std::vector<std::int64_t>{1, 10, 2}));
  EXPECT_EQ(e.offsets[1], (Offset{5, 12}));  // lstrip takes the space before
  EXPECT_EQ(tok.encode("ab abc").ids, (std::vector<std::int64_t>{11, 0}));
  EXPECT_EQ(tok.encode("FOO foo").ids, (std::vector<std::int64_t>{12, 12}));  // matched after lowercasing
  EXPECT_EQ(tok.decode(e.ids, true), "hello world");
}

TEST(EncodeOptions, PaddingTruncationAndPairs) {
  const Tokenizer bert = AutoTokenizer::from_pretrained(tokenizer_data("bert-caikit-random"));
  const std::vector<std::string> texts = {"a", "hello world"};
  const auto batch = bert.encode_batch(texts, {.padding = Padding::longest});
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].size(), batch[1].size());
  EXPECT_EQ(batch[0].ids, (std::vector<std::int64_t>{2, 43, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(batch[0].attention_mask, (std::vector<std::int64_t>{1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  const auto left = bert.encode_batch(texts, {.padding = Padding::longest, .padding_side = Side::left});
  EXPECT_EQ(left[0].ids, (std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 43, 3}));
  const auto multiple = bert.encode_batch(texts, {.padding = Padding::longest, .pad_to_multiple_of = 8});
  EXPECT_EQ(multiple[1].size(), 16u);
  const auto fixed = bert.encode_batch(texts, {.padding = Padding::max_length, .truncation = true, .max_length = 5});
  EXPECT_EQ(fixed[0].ids, (std::vector<std::int64_t>{2, 43, 3, 0, 0}));
  EXPECT_EQ(fixed[1].ids, (std::vector<std::int64_t>{2, 50, 795, 804, 3}));
  const Encoding left_cut = bert.encode("hello", {.truncation = true, .max_length = 4, .truncation_side = Side::left});
  EXPECT_EQ(left_cut.tokens, (Pieces{"[CLS]", "##l", "##o", "[SEP]"}));

  const Encoding pair = bert.encode_pair("a b", "c");
  EXPECT_EQ(pair.tokens, (Pieces{"[CLS]", "a", "b", "[SEP]", "c", "[SEP]"}));
  EXPECT_EQ(pair.type_ids, (std::vector<std::int64_t>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(pair.special_tokens_mask, (std::vector<std::int64_t>{1, 0, 0, 1, 0, 1}));
  EXPECT_EQ(pair.sequence_ids, (std::vector<std::int64_t>{-1, 0, 0, -1, 1, -1}));
  const Encoding cut_pair = bert.encode_pair("a b c d e", "f", {.truncation = true, .max_length = 6});
  EXPECT_EQ(cut_pair.tokens, (Pieces{"[CLS]", "a", "b", "[SEP]", "f", "[SEP]"}));

  const Tokenizer gpt2 = AutoTokenizer::from_pretrained(tokenizer_data("gpt2-tokenizer"));
  EXPECT_THROW(gpt2.encode_batch(texts, {.padding = Padding::longest}), ValueError);  // no pad token
}

TEST(Offsets, ByteLevelOffsetsAndCharOffsets) {
  const Tokenizer gpt2 = AutoTokenizer::from_pretrained(tokenizer_data("gpt2-tokenizer"));
  const std::string text = "Hello, wörld!";
  const Encoding e = gpt2.encode(text);
  EXPECT_EQ(e.tokens, (Pieces{"Hello", ",", "Ġw", "Ã¶r", "ld", "!"}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{{0, 5}, {5, 6}, {6, 8}, {8, 11}, {11, 13}, {13, 14}}));
  EXPECT_EQ(to_char_offsets(text, e.offsets), (std::vector<Offset>{{0, 5}, {5, 6}, {6, 8}, {8, 10}, {10, 12}, {12, 13}}));
  EXPECT_EQ(e.word_ids, (std::vector<std::int64_t>{0, 1, 2, 2, 2, 3}));
  // A token that holds only part of a character's bytes reports the whole character.
  const Encoding cjk = gpt2.encode("中文", false);
  EXPECT_EQ(cjk.tokens, (Pieces{"ä¸Ń", "æĸ", "ĩ"}));
  EXPECT_EQ(cjk.offsets, (std::vector<Offset>{{0, 3}, {3, 6}, {3, 6}}));
}

}  // namespace
}  // namespace hfcpp::testing

namespace hfcpp::testing {
namespace {

TEST(PreTokenizers, WhitespaceKeepsCombiningMarksInWords) {
  // "e" + U+0301 stays one word, as Oniguruma's \w counts marks.
  EXPECT_EQ(pre_tokens({{"type", "Whitespace"}}, "cafe\xCC\x81 ok!"), (Pieces{"cafe\xCC\x81", "ok", "!"}));
}

}  // namespace
}  // namespace hfcpp::testing
