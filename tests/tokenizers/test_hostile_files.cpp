// Malformed and hostile tokenizer files: each one is rejected with an hfcpp::Error subclass whose
// message names the file and the JSON key; nothing crashes.
#include <fstream>

#include "hfcpp/error.h"
#include "tokenizer_test_support.h"

namespace hfcpp::testing {
namespace {

using json = nlohmann::json;

json minimal_bpe() {
  return json::parse(R"({
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
    "pre_tokenizer": {"type": "Whitespace"}
  })");
}

// Loads `text` as "hostile.json" and expects an exception of type E whose message contains every
// one of `fragments`.
template <class E>
void expect_rejected(const std::string& text, std::initializer_list<std::string> fragments) {
  SCOPED_TRACE(text.substr(0, 200));
  try {
    Tokenizer::from_json_string(text, "hostile.json");
    ADD_FAILURE() << "accepted";
  } catch (const E& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("hostile.json"), std::string::npos) << message;
    for (const auto& fragment : fragments) EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(HostileTokenizerJson, SyntaxAndShape) {
  expect_rejected<FormatError>("{\"model\": ", {"not valid JSON"});
  expect_rejected<FormatError>("[1, 2]", {"expected a JSON object"});
  expect_rejected<FormatError>("{}", {"\"model\"", "missing"});
  expect_rejected<FormatError>(R"({"model": 3})", {"\"model\"", "expected an object"});
}

TEST(HostileTokenizerJson, ModelErrors) {
  json j = minimal_bpe();
  j["model"]["type"] = "Foo";
  expect_rejected<FormatError>(j.dump(), {"\"model.type\"", "unknown model type \"Foo\""});
  j = minimal_bpe();
  j["model"].erase("vocab");
  expect_rejected<FormatError>(j.dump(), {"\"model.vocab\"", "missing"});
  j = minimal_bpe();
  j["model"]["vocab"] = json::array({1, 2});
  expect_rejected<FormatError>(j.dump(), {"\"model.vocab\"", "expected an object"});
  j = minimal_bpe();
  j["model"]["vocab"]["b"] = -4;
  expect_rejected<FormatError>(j.dump(), {"\"model.vocab.b\"", "token id"});
  j = minimal_bpe();
  j["model"]["vocab"]["b"] = "one";
  expect_rejected<FormatError>(j.dump(), {"\"model.vocab.b\"", "expected an integer"});
  j = minimal_bpe();
  j["model"]["merges"] = json::array({"a zz"});
  expect_rejected<FormatError>(j.dump(), {"\"model.merges\"", "\"zz\" is not in the vocabulary"});
  j = minimal_bpe();
  j["model"]["merges"] = json::array({"b a"});
  expect_rejected<FormatError>(j.dump(), {"\"model.merges\"", "merged token \"ba\""});
  j = minimal_bpe();
  j["model"]["merges"] = json::array({7});
  expect_rejected<FormatError>(j.dump(), {"\"model.merges[0]\""});
  j = minimal_bpe();
  j["model"]["merges"] = json::array({"ab"});
  expect_rejected<FormatError>(j.dump(), {"\"model.merges[0]\""});
  j = minimal_bpe();
  j["model"]["dropout"] = 3.5;
  expect_rejected<FormatError>(j.dump(), {"\"model.dropout\""});
  j = json::parse(R"({"model": {"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}})");
  expect_rejected<FormatError>(j.dump(), {"\"model.unk_id\"", "outside the vocabulary"});
  j = json::parse(R"({"model": {"type": "Unigram", "vocab": [["a"]]}})");
  expect_rejected<FormatError>(j.dump(), {"\"model.vocab[0]\"", "[piece, score]"});
}

TEST(HostileTokenizerJson, ComponentErrors) {
  json j = minimal_bpe();
  j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"Regex": "(unclosed"},
                                       "behavior": "Isolated", "invert": false})");
  expect_rejected<FormatError>(j.dump(), {"\"pre_tokenizer.pattern.Regex\"", "invalid regex"});
  j["pre_tokenizer"] = json::parse(R"({"type": "Split", "pattern": {"String": "-"}, "behavior": "Sideways"})");
  expect_rejected<FormatError>(j.dump(), {"\"pre_tokenizer.behavior\"", "Sideways"});
  j = minimal_bpe();
  j["normalizer"] = json::parse(R"({"type": "Precompiled", "precompiled_charsmap": ""})");
  expect_rejected<UnsupportedError>(j.dump(), {"\"normalizer.type\"", "Precompiled"});
  j["normalizer"] = json::parse(R"({"type": "Lowercase2"})");
  expect_rejected<FormatError>(j.dump(), {"\"normalizer.type\"", "Lowercase2"});
  j["normalizer"] = json::parse(R"({"type": "Replace", "pattern": {"Neither": 1}, "content": ""})");
  expect_rejected<FormatError>(j.dump(), {"\"normalizer.pattern\""});
  j = minimal_bpe();
  j["decoder"] = json::parse(R"({"type": "Strip", "content": "ab", "start": 1, "stop": 0})");
  expect_rejected<FormatError>(j.dump(), {"\"decoder.content\"", "single character"});
  j = minimal_bpe();
  j["post_processor"] = json::parse(R"({"type": "TemplateProcessing", "single": "[CLS] $A", "special_tokens": {}})");
  expect_rejected<FormatError>(j.dump(), {"\"post_processor\"", "[CLS]"});
  j = minimal_bpe();
  j["added_tokens"] = json::parse(R"([{"id": "7", "content": "x"}])");
  expect_rejected<FormatError>(j.dump(), {"\"added_tokens[0].id\""});
  j = minimal_bpe();
  j["added_tokens"] = json::parse(R"([{"id": 7, "content": ""}])");
  expect_rejected<FormatError>(j.dump(), {"\"added_tokens[0].content\""});
}

TEST(HostileTokenizerJson, DeepNestingIsRefused) {
  json normalizer = json::parse(R"({"type": "Lowercase"})");
  for (int i = 0; i < 200; ++i) normalizer = json{{"type", "Sequence"}, {"normalizers", json::array({normalizer})}};
  json j = minimal_bpe();
  j["normalizer"] = normalizer;
  expect_rejected<FormatError>(j.dump(), {"nested too deeply"});
}

TEST(HostileTokenizerJson, InvalidUtf8TextIsAValueError) {
  const Tokenizer tok = tokenizer_from(minimal_bpe());
  try {
    tok.encode(std::string("ab\xC3(", 4));
    ADD_FAILURE() << "accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tok.encode(std::string("\xED\xA0\x80")), ValueError);  // a UTF-16 surrogate
  EXPECT_THROW(tok.encode(std::string("\xC0\xAF")), ValueError);      // overlong
  // Unknown ids are skipped, as the Rust tokenizers do.
  EXPECT_EQ(tok.decode(std::vector<std::int64_t>{2, -1, 1'000'000}), "ab");
}

TEST(HostileFolders, LegacyFilesAndMissingFiles) {
  TempDir dir;
  EXPECT_THROW(AutoTokenizer::from_pretrained(dir.path()), FileError);
  EXPECT_THROW(AutoTokenizer::from_pretrained(dir / "nope"), FileError);
  write_file(dir / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_file(dir / "merges.txt", "#version: 0.2\na b\nthree parts here\n");
  try {
    AutoTokenizer::from_pretrained(dir.path());
    ADD_FAILURE() << "accepted";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("merges.txt: line 3"), std::string::npos) << message;
  }
  write_file(dir / "merges.txt", "#version: 0.2\na q\n");
  EXPECT_THROW(AutoTokenizer::from_pretrained(dir.path()), FormatError);
  write_file(dir / "merges.txt", "a b\n");
  EXPECT_EQ(AutoTokenizer::from_pretrained(dir.path()).encode("ab").ids, (std::vector<std::int64_t>{2}));
  write_file(dir / "tokenizer_config.json", R"({"padding_side": "middle"})");
  try {
    AutoTokenizer::from_pretrained(dir.path());
    ADD_FAILURE() << "accepted";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
    EXPECT_NE(message.find("\"padding_side\""), std::string::npos) << message;
  }

  TempDir bert;
  write_file(bert / "vocab.txt", std::string("[PAD]\n[UNK]\n\xFF\n"));
  EXPECT_THROW(AutoTokenizer::from_pretrained(bert.path()), FormatError);
  TempDir sentencepiece;
  write_file(sentencepiece / "tokenizer.model", "not really");
  EXPECT_THROW(AutoTokenizer::from_pretrained(sentencepiece.path()), UnsupportedError);
}

TEST(HostileFolders, SeedCorpusNeverCrashes) {
  // Every file of the fuzz seed corpus either loads and round-trips a text, or throws an Error.
  const auto corpus = std::filesystem::path(HFCPP_TEST_DATA_DIR) / "../../fuzz/corpus/tokenizer_json";
  ASSERT_TRUE(std::filesystem::exists(corpus));
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    try {
      const Tokenizer tok = Tokenizer::from_json_string(read_file(entry.path()), entry.path().string());
      const Encoding e = tok.encode("Hello wörld 123 <s> [CLS] 🤗");
      tok.decode(e.ids);
      ++loaded;
    } catch (const Error&) {
    }
  }
  EXPECT_GT(loaded, 3);
}

}  // namespace
}  // namespace hfcpp::testing
