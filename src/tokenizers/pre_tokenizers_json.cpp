// tokenizer.json "pre_tokenizer" -> PreTokenizer.
#include "hfcpp/error.h"
#include "normalizers.h"
#include "pre_tokenizers.h"

namespace hfcpp::tok {

SplitBehavior split_behavior_from_json(const JsonView& json) {
  const std::string name = json.str();
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  json.fail("unknown split behavior \"" + name + "\"");
}

PrependScheme prepend_scheme_from_json(const JsonView& json) {
  const std::string name = json.str();
  if (name == "first") return PrependScheme::first;
  if (name == "always") return PrependScheme::always;
  if (name == "never") return PrependScheme::never;
  json.fail("unknown prepend_scheme \"" + name + "\" (expected first, always or never)");
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const JsonView& json, int depth) {
  if (json.is_null()) return nullptr;
  if (depth > kMaxJsonNesting) json.fail("pre-tokenizers nested too deeply");
  const JsonView type = json["type"];
  const std::string name = type.str();
  if (name == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(json.bool_or("add_prefix_space", true),
                                                   json.bool_or("use_regex", true));
  if (name == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (name == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (name == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  if (name == "Punctuation") {
    const auto behavior = json.get("behavior");
    return std::make_unique<PunctuationPreTokenizer>(
        behavior ? split_behavior_from_json(*behavior) : SplitBehavior::isolated);
  }
  if (name == "Digits") return std::make_unique<DigitsPreTokenizer>(json.bool_or("individual_digits", false));
  if (name == "Split")
    return std::make_unique<SplitPreTokenizer>(pattern_from_json(json["pattern"]),
                                               split_behavior_from_json(json["behavior"]),
                                               json.bool_or("invert", false));
  if (name == "CharDelimiterSplit") {
    const JsonView delimiter = json["delimiter"];
    const std::string text = delimiter.str();
    if (text.empty() || count_chars(text) != 1) delimiter.expected("a single character");
    return std::make_unique<CharDelimiterPreTokenizer>(text);
  }
  if (name == "Metaspace") {
    std::string replacement = json.str_or("replacement", "\xE2\x96\x81");
    if (replacement.empty() || count_chars(replacement) != 1)
      json["replacement"].expected("a single character");
    PrependScheme scheme = PrependScheme::always;
    if (const auto v = json.get("prepend_scheme"))
      scheme = prepend_scheme_from_json(*v);
    else if (const auto legacy = json.get("add_prefix_space"))
      scheme = legacy->boolean() ? PrependScheme::always : PrependScheme::never;
    return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme,
                                                   json.bool_or("split", true));
  }
  if (name == "Sequence") {
    const JsonView list = json["pretokenizers"];
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto step = pre_tokenizer_from_json(list.at(i), depth + 1)) steps.push_back(std::move(step));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  const std::string message = "pre-tokenizer \"" + name + "\"";
  if (name == "UnicodeScripts" || name == "FixedLength")
    throw UnsupportedError(type.file() + ": key \"" + type.path() + "\": " + message +
                           " is not supported by hfcpp");
  type.fail("unknown " + message);
}

}  // namespace hfcpp::tok
