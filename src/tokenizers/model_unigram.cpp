// Unigram (SentencePiece): the segmentation with the best total score (Viterbi over a lattice of
// vocabulary pieces); unknown characters get the minimum score minus a penalty.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "hfcpp/error.h"
#include "models.h"
#include "unicode.h"

namespace hfcpp::tok {

namespace {
constexpr double kUnknownPenalty = 10.0;
}

UnigramModel::UnigramModel(std::vector<std::pair<std::string, double>> pieces,
                           std::optional<std::uint32_t> unk_id, bool byte_fallback)
    : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
  if (unk_id_ && *unk_id_ >= pieces_.size())
    throw ValueError("unk_id " + std::to_string(*unk_id_) + " is outside the vocabulary of " +
                     std::to_string(pieces_.size()) + " pieces");
  min_score_ = std::numeric_limits<double>::infinity();
  trie_piece_.push_back(-1);  // the root
  for (std::size_t id = 0; id < pieces_.size(); ++id) {
    const auto& [piece, score] = pieces_[id];
    ids_.emplace(piece, static_cast<std::uint32_t>(id));  // the first of duplicates wins
    min_score_ = std::min(min_score_, score);
    std::uint64_t node = 0;
    for (const char ch : piece) {
      const std::uint64_t key = (node << 8) | static_cast<unsigned char>(ch);
      if (const auto* child = trie_edges_.find(key)) {
        node = *child;
      } else {
        const std::uint64_t created = trie_piece_.size();
        trie_piece_.push_back(-1);
        trie_edges_.set(key, created);
        node = created;
      }
    }
    if (!piece.empty() && trie_piece_[node] < 0) trie_piece_[node] = static_cast<std::int64_t>(id);
  }
  if (pieces_.empty()) min_score_ = 0;
}

std::vector<std::string> UnigramModel::best_segmentation(std::string_view text) const {
  struct Node {
    std::int64_t id = -1;
    double score = 0;
    std::int64_t starts_at = -1;
  };
  const double unknown_score = min_score_ - kUnknownPenalty;
  std::vector<Node> best(text.size() + 1);
  std::size_t start = 0;
  while (start < text.size()) {
    const double score_here = best[start].score;
    const std::size_t char_length = utf8_length(static_cast<unsigned char>(text[start]));
    bool single_char_piece = false;
    std::uint64_t node = 0;
    for (std::size_t end = start; end < text.size(); ++end) {
      const auto* child = trie_edges_.find((node << 8) | static_cast<unsigned char>(text[end]));
      if (!child) break;
      node = *child;
      const std::int64_t id = trie_piece_[node];
      if (id < 0) continue;
      const std::size_t key_end = end + 1;
      const double candidate = score_here + pieces_[id].second;
      Node& target = best[key_end];
      if (target.starts_at < 0 || candidate > target.score) target = {id, candidate, static_cast<std::int64_t>(start)};
      if (key_end - start == char_length) single_char_piece = true;
    }
    if (!single_char_piece) {
      if (!unk_id_)
        throw ValueError("Unigram: the text has characters outside the vocabulary and the model has no unk_id");
      Node& target = best[start + char_length];
      const double candidate = score_here + unknown_score;
      if (target.starts_at < 0 || candidate > target.score)
        target = {static_cast<std::int64_t>(*unk_id_), candidate, static_cast<std::int64_t>(start)};
    }
    start += char_length;
  }
  // Walk back; consecutive unknown pieces are fused into one.
  std::vector<std::string> result;
  std::size_t unknown_end = 0;  // end of the current run of unknown pieces, 0 = none
  std::size_t end = text.size();
  while (end > 0) {
    const Node& node = best[end];
    const auto begin = static_cast<std::size_t>(node.starts_at);
    if (unk_id_ && node.id == static_cast<std::int64_t>(*unk_id_)) {
      if (unknown_end == 0) unknown_end = end;
    } else {
      if (unknown_end != 0) result.emplace_back(text.substr(end, unknown_end - end));
      unknown_end = 0;
      result.emplace_back(text.substr(begin, end - begin));
    }
    end = begin;
  }
  if (unknown_end != 0) result.emplace_back(text.substr(0, unknown_end));
  std::reverse(result.begin(), result.end());
  return result;
}

void UnigramModel::tokenize(std::string_view sequence, std::vector<Token>& out) const {
  std::size_t offset = 0;
  for (std::string& piece : best_segmentation(sequence)) {
    const std::size_t length = piece.size();
    if (const auto id = find_id(ids_, piece)) {
      out.push_back({*id, std::move(piece), offset, offset + length});
    } else {
      bool done = false;
      if (byte_fallback_) {
        std::vector<Token> bytes;
        for (const char b : piece) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(b));
          const auto byte_id = find_id(ids_, name);
          if (!byte_id) break;
          bytes.push_back({*byte_id, name, offset, offset + length});
        }
        if (bytes.size() == piece.size()) {
          out.insert(out.end(), bytes.begin(), bytes.end());
          done = true;
        }
      }
      if (!done) {
        if (!unk_id_) throw ValueError("Unigram: no unk_id for an unknown piece");
        out.push_back({*unk_id_, std::move(piece), offset, offset + length});
      }
    }
    offset += length;
  }
}

}  // namespace hfcpp::tok
