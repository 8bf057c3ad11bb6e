// tokenizer.json "normalizer" -> Normalizer.
#include "hfcpp/error.h"
#include "normalizers.h"

namespace hfcpp::tok {

std::unique_ptr<Pattern> pattern_from_json(const JsonView& json) {
  if (const auto literal = json.get("String")) return std::make_unique<LiteralPattern>(literal->str());
  if (const auto regex = json.get("Regex")) {
    const std::string source = regex->str();
    try {
      return std::make_unique<RegexPattern>(std::make_shared<Regex>(source));
    } catch (const ValueError& e) {
      regex->fail(e.what());
    }
  }
  json.expected("a pattern {\"String\": ...} or {\"Regex\": ...}");
}

namespace {

[[noreturn]] void unknown_type(const JsonView& type, const char* component,
                               std::initializer_list<const char*> known_unsupported) {
  const std::string name = type.str();
  for (const char* unsupported : known_unsupported)
    if (name == unsupported)
      throw UnsupportedError(type.file() + ": key \"" + type.path() + "\": " + component + " \"" +
                             name + "\" is not supported by hfcpp");
  type.fail(std::string("unknown ") + component + " type \"" + name + "\"");
}

}  // namespace

std::unique_ptr<Normalizer> normalizer_from_json(const JsonView& json, int depth) {
  if (json.is_null()) return nullptr;
  if (depth > kMaxJsonNesting) json.fail("normalizers nested too deeply");
  const JsonView type = json["type"];
  const std::string name = type.str();
  if (name == "BertNormalizer") {
    std::optional<bool> strip_accents;
    if (const auto v = json.get("strip_accents")) strip_accents = v->boolean();
    return std::make_unique<BertNormalizer>(json.bool_or("clean_text", true),
                                            json.bool_or("handle_chinese_chars", true),
                                            strip_accents, json.bool_or("lowercase", true));
  }
  if (name == "NFC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfc);
  if (name == "NFD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfd);
  if (name == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfkc);
  if (name == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::nfkd);
  if (name == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (name == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (name == "Strip")
    return std::make_unique<StripNormalizer>(json.bool_or("strip_left", true),
                                             json.bool_or("strip_right", true));
  if (name == "Prepend") return std::make_unique<PrependNormalizer>(json["prepend"].str());
  if (name == "Replace")
    return std::make_unique<ReplaceNormalizer>(pattern_from_json(json["pattern"]),
                                               json["content"].str());
  if (name == "Sequence") {
    const JsonView list = json["normalizers"];
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto step = normalizer_from_json(list.at(i), depth + 1)) steps.push_back(std::move(step));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  unknown_type(type, "normalizer", {"Precompiled", "Nmt", "ByteLevel"});
}

}  // namespace hfcpp::tok
