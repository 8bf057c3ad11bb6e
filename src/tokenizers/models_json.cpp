// tokenizer.json "model" -> Model.
#include "hfcpp/error.h"
#include "models.h"

namespace hfcpp::tok {

TokenIds vocab_from_json(const JsonView& json) {
  if (!json.is_object()) json.expected("an object {token: id}");
  TokenIds vocab;
  vocab.reserve(json.raw().size());
  for (const auto& [token, id] : json.raw().items()) {
    if (id.is_number_unsigned() && id.get<std::uint64_t>() < UINT32_MAX) {
      vocab.emplace(token, static_cast<std::uint32_t>(id.get<std::uint64_t>()));
      continue;
    }
    vocab.emplace(token, json[token].token_id());  // throws, naming the entry, unless a float id
  }
  return vocab;
}

namespace {

std::vector<std::pair<std::string, std::string>> merges_from_json(const JsonView& json) {
  std::vector<std::pair<std::string, std::string>> merges;
  const std::size_t count = json.size();
  merges.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const JsonView merge = json.at(i);
    if (merge.is_string()) {
      const std::string line = merge.str();
      const auto space = line.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 >= line.size())
        merge.expected("a merge \"left right\"");
      merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2) {
      merges.emplace_back(merge.at(0).str(), merge.at(1).str());
    } else {
      merge.expected("a merge \"left right\" or [\"left\", \"right\"]");
    }
  }
  return merges;
}

std::string infer_model_type(const JsonView& json) {
  if (json.has("merges")) return "BPE";
  if (json.has("vocab") && json["vocab"].is_array()) return "Unigram";
  if (json.has("max_input_chars_per_word") || json.has("continuing_subword_prefix")) return "WordPiece";
  if (json.has("vocab")) return "WordLevel";
  json.fail("cannot tell the model type (no \"type\", no vocab)");
}

std::unique_ptr<Model> bpe_from_json(const JsonView& json) {
  BpeOptions options;
  options.unk_token = json.optional_str("unk_token");
  options.continuing_subword_prefix = json.str_or("continuing_subword_prefix", "");
  options.end_of_word_suffix = json.str_or("end_of_word_suffix", "");
  options.fuse_unk = json.bool_or("fuse_unk", false);
  options.byte_fallback = json.bool_or("byte_fallback", false);
  options.ignore_merges = json.bool_or("ignore_merges", false);
  if (const auto dropout = json.get("dropout")) {
    const double p = dropout->number();  // validated, then ignored: inference never drops merges
    if (!(p >= 0.0 && p <= 1.0)) dropout->expected("a probability in [0, 1]");
  }
  TokenIds vocab = vocab_from_json(json["vocab"]);
  const auto merges_json = json.get("merges");
  const auto merges = merges_json ? merges_from_json(*merges_json)
                                  : std::vector<std::pair<std::string, std::string>>{};
  try {
    return std::make_unique<BpeModel>(std::move(vocab), merges, std::move(options));
  } catch (const ValueError& e) {
    json["merges"].fail(e.what());
  }
}

std::unique_ptr<Model> wordpiece_from_json(const JsonView& json) {
  const auto max_chars = json.get("max_input_chars_per_word");
  std::int64_t max_input_chars = max_chars ? max_chars->integer() : 100;
  if (max_input_chars < 0) json["max_input_chars_per_word"].expected("a non-negative integer");
  return std::make_unique<WordPieceModel>(vocab_from_json(json["vocab"]), json.str_or("unk_token", "[UNK]"),
                                          json.str_or("continuing_subword_prefix", "##"),
                                          static_cast<std::size_t>(max_input_chars));
}

std::unique_ptr<Model> unigram_from_json(const JsonView& json) {
  const JsonView vocab = json["vocab"];
  std::vector<std::pair<std::string, double>> pieces;
  const std::size_t count = vocab.size();
  pieces.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const JsonView entry = vocab.at(i);
    if (!entry.is_array() || entry.size() != 2) entry.expected("a [piece, score] pair");
    pieces.emplace_back(entry.at(0).str(), entry.at(1).number());
  }
  std::optional<std::uint32_t> unk_id;
  if (const auto v = json.get("unk_id")) unk_id = v->token_id();
  try {
    return std::make_unique<UnigramModel>(std::move(pieces), unk_id, json.bool_or("byte_fallback", false));
  } catch (const ValueError& e) {
    json["unk_id"].fail(e.what());
  }
}

}  // namespace

std::unique_ptr<Model> model_from_json(const JsonView& json) {
  if (!json.is_object()) json.expected("an object");
  const auto type = json.get("type");
  const std::string name = type ? type->str() : infer_model_type(json);
  if (name == "BPE") return bpe_from_json(json);
  if (name == "WordPiece") return wordpiece_from_json(json);
  if (name == "Unigram") return unigram_from_json(json);
  if (name == "WordLevel")
    return std::make_unique<WordLevelModel>(vocab_from_json(json["vocab"]), json.str_or("unk_token", "<unk>"));
  type->fail("unknown model type \"" + name + "\" (expected BPE, WordPiece, Unigram or WordLevel)");
}

}  // namespace hfcpp::tok
