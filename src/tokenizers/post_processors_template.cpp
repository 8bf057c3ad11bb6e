// TemplateProcessing, BertProcessing and RobertaProcessing.
#include "post_processors.h"

#include "hfcpp/error.h"

namespace hfcpp::tok {

Encoding special_tokens_encoding(const std::vector<std::int64_t>& ids,
                                 const std::vector<std::string>& tokens, std::int64_t type_id) {
  Encoding e;
  const std::size_t n = ids.size();
  e.ids = ids;
  e.tokens = tokens;
  e.tokens.resize(n);
  e.type_ids.assign(n, type_id);
  e.attention_mask.assign(n, 1);
  e.special_tokens_mask.assign(n, 1);
  e.offsets.assign(n, Offset{0, 0});
  e.word_ids.assign(n, -1);
  e.sequence_ids.assign(n, -1);
  return e;
}

void set_type_ids(Encoding& encoding, std::int64_t type_id) {
  encoding.type_ids.assign(encoding.ids.size(), type_id);
}

TemplateProcessing::TemplateProcessing(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair,
                                       std::map<std::string, TemplateSpecialToken> special_tokens)
    : single_(std::move(single)), pair_(std::move(pair)), special_tokens_(std::move(special_tokens)) {
  for (const auto* pieces : {&single_, &pair_})
    for (const auto& piece : *pieces)
      if (!piece.is_sequence && !special_tokens_.contains(piece.special_id))
        throw ValueError("template uses special token \"" + piece.special_id +
                         "\" missing from special_tokens");
}

std::size_t TemplateProcessing::added_tokens(bool is_pair) const {
  std::size_t count = 0;
  for (const auto& piece : is_pair ? pair_ : single_)
    if (!piece.is_sequence) count += special_tokens_.at(piece.special_id).ids.size();
  return count;
}

void TemplateProcessing::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  const bool is_pair = encodings.size() > 1;
  std::vector<Encoding> result;
  for (const auto& piece : is_pair ? pair_ : single_) {
    if (piece.is_sequence) {
      if (piece.sequence >= static_cast<int>(encodings.size())) continue;
      Encoding e = encodings[piece.sequence];
      set_type_ids(e, piece.type_id);
      result.push_back(std::move(e));
    } else if (add_special_tokens) {
      const auto& special = special_tokens_.at(piece.special_id);
      result.push_back(special_tokens_encoding(special.ids, special.tokens, piece.type_id));
    }
  }
  encodings = std::move(result);
}

void BertProcessing::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  if (!add_special_tokens) return;
  std::vector<Encoding> result;
  result.push_back(special_tokens_encoding({cls_.id}, {cls_.token}, 0));
  set_type_ids(encodings[0], 0);
  result.push_back(std::move(encodings[0]));
  result.push_back(special_tokens_encoding({sep_.id}, {sep_.token}, 0));
  if (encodings.size() > 1) {
    set_type_ids(encodings[1], 1);
    result.push_back(std::move(encodings[1]));
    result.push_back(special_tokens_encoding({sep_.id}, {sep_.token}, 1));
  }
  encodings = std::move(result);
}

void RobertaProcessing::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  if (trim_offsets_)
    for (auto& e : encodings) trim_byte_level_offsets(e, add_prefix_space_);
  for (auto& e : encodings) set_type_ids(e, 0);  // RoBERTa has a single token type
  if (!add_special_tokens) return;
  std::vector<Encoding> result;
  result.push_back(special_tokens_encoding({cls_.id}, {cls_.token}, 0));
  result.push_back(std::move(encodings[0]));
  result.push_back(special_tokens_encoding({sep_.id}, {sep_.token}, 0));
  if (encodings.size() > 1) {
    result.push_back(special_tokens_encoding({sep_.id}, {sep_.token}, 0));
    result.push_back(std::move(encodings[1]));
    result.push_back(special_tokens_encoding({sep_.id}, {sep_.token}, 0));
  }
  encodings = std::move(result);
}

std::size_t SequencePostProcessor::added_tokens(bool is_pair) const {
  std::size_t count = 0;
  for (const auto& step : steps_) count += step->added_tokens(is_pair);
  return count;
}

void SequencePostProcessor::process(std::vector<Encoding>& encodings, bool add_special_tokens) const {
  for (const auto& step : steps_) step->process(encodings, add_special_tokens);
}

}  // namespace hfcpp::tok
