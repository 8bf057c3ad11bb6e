// tokenizer.json "post_processor" -> PostProcessor.
#include <sstream>

#include "hfcpp/error.h"
#include "normalizers.h"
#include "post_processors.h"

namespace hfcpp::tok {

namespace {

// "$A", "$B:1", "[CLS]", "[SEP]:1" (the string form of a template piece).
TemplatePiece parse_piece_string(const JsonView& where, const std::string& text) {
  TemplatePiece piece;
  std::string name = text;
  const auto colon = text.rfind(':');
  if (colon != std::string::npos && colon + 1 < text.size() &&
      text.find_first_not_of("0123456789", colon + 1) == std::string::npos && colon > 0) {
    name = text.substr(0, colon);
    const std::string digits = text.substr(colon + 1);
    if (digits.size() > 9) where.fail("type id too large in \"" + text + "\"");
    piece.type_id = std::stoll(digits);
  }
  if (name.starts_with('$')) {
    const std::string sequence = name.substr(1);
    piece.is_sequence = true;
    if (sequence == "A" || sequence == "a" || sequence.empty()) piece.sequence = 0;
    else if (sequence == "B" || sequence == "b") piece.sequence = 1;
    else where.fail("unknown sequence \"" + name + "\" in template (expected $A or $B)");
  } else {
    piece.special_id = name;
  }
  return piece;
}

std::vector<TemplatePiece> template_from_json(const JsonView& json) {
  std::vector<TemplatePiece> pieces;
  if (json.is_string()) {
    std::istringstream words(json.str());
    std::string word;
    while (words >> word) pieces.push_back(parse_piece_string(json, word));
    return pieces;
  }
  for (std::size_t i = 0; i < json.size(); ++i) {
    const JsonView item = json.at(i);
    if (item.is_string()) {
      pieces.push_back(parse_piece_string(item, item.str()));
    } else if (const auto sequence = item.get("Sequence")) {
      TemplatePiece piece;
      piece.is_sequence = true;
      const std::string id = (*sequence)["id"].str();
      if (id == "A") piece.sequence = 0;
      else if (id == "B") piece.sequence = 1;
      else (*sequence)["id"].expected("\"A\" or \"B\"");
      piece.type_id = (*sequence)["type_id"].token_id();
      pieces.push_back(piece);
    } else if (const auto special = item.get("SpecialToken")) {
      TemplatePiece piece;
      piece.special_id = (*special)["id"].str();
      piece.type_id = (*special)["type_id"].token_id();
      pieces.push_back(piece);
    } else {
      item.expected("{\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  return pieces;
}

SpecialToken special_token_from_json(const JsonView& json) {
  if (!json.is_array() || json.size() != 2) json.expected("a [token, id] pair");
  return {json.at(0).str(), json.at(1).token_id()};
}

}  // namespace

std::unique_ptr<PostProcessor> post_processor_from_json(const JsonView& json, int depth) {
  if (json.is_null()) return nullptr;
  if (depth > kMaxJsonNesting) json.fail("post-processors nested too deeply");
  const JsonView type = json["type"];
  const std::string name = type.str();
  if (name == "TemplateProcessing") {
    std::map<std::string, TemplateSpecialToken> specials;
    if (const auto tokens = json.get("special_tokens")) {
      if (!tokens->is_object()) tokens->expected("an object");
      for (const auto& [key, value] : tokens->raw().items()) {
        const JsonView entry = (*tokens)[key];
        TemplateSpecialToken special;
        const JsonView ids = entry["ids"], names = entry["tokens"];
        for (std::size_t i = 0; i < ids.size(); ++i) special.ids.push_back(ids.at(i).token_id());
        for (std::size_t i = 0; i < names.size(); ++i) special.tokens.push_back(names.at(i).str());
        if (special.ids.size() != special.tokens.size())
          entry.fail("\"ids\" and \"tokens\" differ in length");
        specials.emplace(key, std::move(special));
      }
    }
    auto single = template_from_json(json["single"]);
    auto pair = json.has("pair") ? template_from_json(json["pair"]) : single;
    try {
      return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair), std::move(specials));
    } catch (const ValueError& e) {
      json.fail(e.what());
    }
  }
  if (name == "BertProcessing")
    return std::make_unique<BertProcessing>(special_token_from_json(json["sep"]),
                                            special_token_from_json(json["cls"]));
  if (name == "RobertaProcessing")
    return std::make_unique<RobertaProcessing>(special_token_from_json(json["sep"]),
                                               special_token_from_json(json["cls"]),
                                               json.bool_or("trim_offsets", true),
                                               json.bool_or("add_prefix_space", true));
  if (name == "ByteLevel")
    return std::make_unique<ByteLevelPostProcessor>(json.bool_or("trim_offsets", true),
                                                    json.bool_or("add_prefix_space", true));
  if (name == "Sequence") {
    const JsonView list = json["processors"];
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (std::size_t i = 0; i < list.size(); ++i)
      if (auto step = post_processor_from_json(list.at(i), depth + 1)) steps.push_back(std::move(step));
    return std::make_unique<SequencePostProcessor>(std::move(steps));
  }
  type.fail("unknown post-processor type \"" + name + "\"");
}

}  // namespace hfcpp::tok
