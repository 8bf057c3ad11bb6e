// WordPiece (BERT): greedy longest-match-first over the vocabulary, continuation pieces carry
// the "##" prefix; a word that cannot be covered becomes a single unknown token.
#include "hfcpp/error.h"
#include "models.h"
#include "unicode.h"

namespace hfcpp::tok {

WordPieceModel::WordPieceModel(TokenIds vocab, std::string unk_token, std::string prefix,
                               std::size_t max_input_chars_per_word)
    : vocab_(std::move(vocab)), tokens_(vocab_), unk_token_(std::move(unk_token)),
      prefix_(std::move(prefix)), max_input_chars_per_word_(max_input_chars_per_word) {}

void WordPieceModel::tokenize(std::string_view sequence, std::vector<Token>& out) const {
  const auto unknown = [&] {
    const auto id = find_id(vocab_, unk_token_);
    if (!id) throw ValueError("WordPiece: unk_token \"" + unk_token_ + "\" is not in the vocabulary");
    out.push_back({*id, unk_token_, 0, sequence.size()});
  };
  if (count_chars(sequence) > max_input_chars_per_word_) {
    unknown();
    return;
  }
  const std::size_t first_new = out.size();
  std::string candidate;
  std::size_t start = 0;
  while (start < sequence.size()) {
    std::size_t end = sequence.size();
    bool found = false;
    while (start < end) {
      const std::string_view piece = sequence.substr(start, end - start);
      std::string_view key = piece;
      if (start > 0) {
        candidate.assign(prefix_);
        candidate.append(piece);
        key = candidate;
      }
      if (const auto id = find_id(vocab_, key)) {
        out.push_back({*id, std::string(key), start, end});
        found = true;
        break;
      }
      // Drop the last character of the candidate.
      --end;
      while (end > start && (static_cast<unsigned char>(sequence[end]) & 0xC0) == 0x80) --end;
    }
    if (!found) {
      out.resize(first_new);
      unknown();
      return;
    }
    start = end;
  }
}

}  // namespace hfcpp::tok
