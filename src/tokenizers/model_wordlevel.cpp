// WordLevel: each pre-token is looked up whole.
#include "hfcpp/error.h"
#include "models.h"

namespace hfcpp::tok {

WordLevelModel::WordLevelModel(TokenIds vocab, std::string unk_token)
    : vocab_(std::move(vocab)), tokens_(vocab_), unk_token_(std::move(unk_token)) {}

void WordLevelModel::tokenize(std::string_view sequence, std::vector<Token>& out) const {
  if (const auto id = find_id(vocab_, sequence)) {
    out.push_back({*id, std::string(sequence), 0, sequence.size()});
    return;
  }
  const auto unk = find_id(vocab_, unk_token_);
  if (!unk) throw ValueError("WordLevel: unk_token \"" + unk_token_ + "\" is not in the vocabulary");
  out.push_back({*unk, unk_token_, 0, sequence.size()});
}

}  // namespace hfcpp::tok
