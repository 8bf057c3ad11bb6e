// tokenizer.json "decoder" -> Decoder.
#include "decoders.h"
#include "hfcpp/error.h"
#include "normalizers.h"
#include "unicode.h"

namespace hfcpp::tok {

std::unique_ptr<Decoder> decoder_from_json(const JsonView& json, int depth) {
  if (json.is_null()) return nullptr;
  if (depth > kMaxJsonNesting) json.fail("decoders nested too deeply");
  const JsonView type = json["type"];
  const std::string name = type.str();
  if (name == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (name == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (name == "Fuse") return std::make_unique<FuseDecoder>();
  if (name == "WordPiece")
    return std::make_unique<WordPieceDecoder>(json.str_or("prefix", "##"), json.bool_or("cleanup", true));
  if (name == "BPEDecoder") return std::make_unique<BpeDecoder>(json.str_or("suffix", "</w>"));
  if (name == "Metaspace") {
    std::string replacement = json.str_or("replacement", "\xE2\x96\x81");
    if (replacement.empty() || count_chars(replacement) != 1)
      json["replacement"].expected("a single character");
    PrependScheme scheme = PrependScheme::always;
    if (const auto v = json.get("prepend_scheme"))
      scheme = prepend_scheme_from_json(*v);
    else if (const auto legacy = json.get("add_prefix_space"))
      scheme = legacy->boolean() ? PrependScheme::always : PrependScheme::never;
    return std::make_unique<MetaspaceDecoder>(std::move(replacement), scheme);
  }
  if (name == "Strip") {
    const std::string content = json["content"].str();
    if (content.empty() || count_chars(content) != 1) json["content"].expected("a single character");
    const std::int64_t start = json.has("start") ? json["start"].integer() : 0;
    const std::int64_t stop = json.has("stop") ? json["stop"].integer() : 0;
    if (start < 0) json["start"].expected("a non-negative integer");
    if (stop < 0) json["stop"].expected("a non-negative integer");
    return std::make_unique<StripDecoder>(content, static_cast<std::size_t>(start),
                                          static_cast<std::size_t>(stop));
  }
  if (name == "Replace")
    return std::make_unique<ReplaceDecoder>(pattern_from_json(json["pattern"]), json["content"].str());
  if (name == "Sequence") {
    const JsonView list = json["decoders"];
    std::vector<std::unique_ptr<Decoder>> steps;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto step = decoder_from_json(list.at(i), depth + 1)) steps.push_back(std::move(step));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (name == "CTC")
    throw UnsupportedError(type.file() + ": key \"" + type.path() + "\": decoder \"CTC\" is not supported by hfcpp");
  type.fail("unknown decoder type \"" + name + "\"");
}

}  // namespace hfcpp::tok
