// Byte-pair encoding: split a word into characters (or bytes, for byte-level vocabularies), then
// apply the merges in rank order. Words are cached, so common words cost one hash lookup.
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <queue>

#include "hfcpp/error.h"
#include "models.h"
#include "unicode.h"

namespace hfcpp::tok {

namespace {

constexpr std::size_t kCacheCapacity = 200'000;
constexpr std::size_t kMaxCachedWordBytes = 256;

std::uint64_t pair_key(std::uint32_t left, std::uint32_t right) {
  return (static_cast<std::uint64_t>(left) << 32) | right;
}

}  // namespace

BpeModel::BpeModel(TokenIds vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options)
    : vocab_(std::move(vocab)), tokens_(vocab_), options_(std::move(options)) {
  const std::string& prefix = options_.continuing_subword_prefix;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& left = merges[rank].first;
    const std::string& right = merges[rank].second;
    const auto describe = [&] {
      return "merge #" + std::to_string(rank) + " \"" + left + " " + right + "\"";
    };
    const auto left_id = find_id(vocab_, left);
    if (!left_id) throw ValueError(describe() + ": token \"" + left + "\" is not in the vocabulary");
    const auto right_id = find_id(vocab_, right);
    if (!right_id) throw ValueError(describe() + ": token \"" + right + "\" is not in the vocabulary");
    const std::string merged =
        left + (!prefix.empty() && right.starts_with(prefix) ? right.substr(prefix.size()) : right);
    const auto merged_id = find_id(vocab_, merged);
    if (!merged_id)
      throw ValueError(describe() + ": merged token \"" + merged + "\" is not in the vocabulary");
    // A repeated pair takes the later rank, as in both Python and Rust.
    merges_.set(pair_key(*left_id, *right_id), (static_cast<std::uint64_t>(rank) << 32) | *merged_id);
  }
  if (options_.unk_token) unk_id_ = find_id(vocab_, *options_.unk_token);
  if (options_.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_fallback_ids_[b] = find_id(vocab_, name);
    }
  }
}

std::vector<BpeModel::Piece> BpeModel::merge_word(std::string_view word) const {
  std::vector<Piece> pieces;
  pieces.reserve(word.size());
  std::optional<Piece> pending_unk;  // consecutive unknown characters, fused when fuse_unk
  const auto unknown_id = [&]() -> std::uint32_t {
    if (!unk_id_)
      throw ValueError("BPE: unk_token \"" + *options_.unk_token + "\" is not in the vocabulary");
    return *unk_id_;
  };
  std::string symbol;
  std::size_t pos = 0;
  while (pos < word.size()) {
    const std::size_t len = utf8_length(static_cast<unsigned char>(word[pos]));
    const bool first = pos == 0, last = pos + len >= word.size();
    std::string_view text = word.substr(pos, len);
    if ((!first && !options_.continuing_subword_prefix.empty()) ||
        (last && !options_.end_of_word_suffix.empty())) {
      symbol.assign(first ? "" : options_.continuing_subword_prefix);
      symbol.append(text);
      if (last) symbol.append(options_.end_of_word_suffix);
      text = symbol;
    }
    pos += len;
    if (const auto id = find_id(vocab_, text)) {
      if (pending_unk) pieces.push_back(*std::exchange(pending_unk, std::nullopt));
      pieces.push_back({*id, static_cast<std::uint32_t>(len)});
      continue;
    }
    if (options_.byte_fallback) {
      const bool all_bytes_known = std::all_of(text.begin(), text.end(), [&](char b) {
        return byte_fallback_ids_[static_cast<unsigned char>(b)].has_value();
      });
      if (all_bytes_known) {
        if (pending_unk) pieces.push_back(*std::exchange(pending_unk, std::nullopt));
        for (const char b : text) pieces.push_back({*byte_fallback_ids_[static_cast<unsigned char>(b)], 1});
        continue;
      }
    }
    if (!options_.unk_token) continue;  // no unk token: the character is dropped (as in Rust)
    if (pending_unk && options_.fuse_unk) {
      pending_unk->length += static_cast<std::uint32_t>(len);
    } else {
      if (pending_unk) pieces.push_back(*pending_unk);
      pending_unk = Piece{unknown_id(), static_cast<std::uint32_t>(len)};
    }
  }
  if (pending_unk) pieces.push_back(*pending_unk);
  if (pieces.size() < 2) return pieces;

  // Merge with a priority queue over (rank, position); symbols form a linked list.
  struct Symbol {
    Piece piece;
    std::int32_t prev, next;
  };
  std::vector<Symbol> symbols(pieces.size());
  for (std::size_t i = 0; i < pieces.size(); ++i)
    symbols[i] = {pieces[i], static_cast<std::int32_t>(i) - 1,
                  i + 1 < pieces.size() ? static_cast<std::int32_t>(i + 1) : -1};
  struct Candidate {
    std::uint32_t rank, position, merged_id;
    bool operator<(const Candidate& other) const {  // reversed: smallest rank, then position, on top
      return rank != other.rank ? rank > other.rank : position > other.position;
    }
  };
  std::priority_queue<Candidate> queue;
  const auto push_pair = [&](std::int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    if (const auto* merge = merges_.find(pair_key(symbols[left].piece.id, symbols[symbols[left].next].piece.id)))
      queue.push({static_cast<std::uint32_t>(*merge >> 32), static_cast<std::uint32_t>(left),
                  static_cast<std::uint32_t>(*merge)});
  };
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) push_pair(static_cast<std::int32_t>(i));
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.piece.length == 0 || left.next < 0) continue;  // merged away meanwhile
    Symbol& right = symbols[left.next];
    const auto* merge = merges_.find(pair_key(left.piece.id, right.piece.id));
    if (!merge || static_cast<std::uint32_t>(*merge) != top.merged_id ||
        static_cast<std::uint32_t>(*merge >> 32) != top.rank)
      continue;  // stale candidate
    left.piece.id = top.merged_id;
    left.piece.length += right.piece.length;
    right.piece.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = static_cast<std::int32_t>(top.position);
    push_pair(left.prev);
    push_pair(static_cast<std::int32_t>(top.position));
  }
  std::vector<Piece> merged;
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) merged.push_back(symbols[i].piece);
  return merged;
}

void BpeModel::emit(const std::vector<Piece>& pieces, std::size_t word_length, std::vector<Token>& out) const {
  std::size_t start = 0;
  for (const Piece& piece : pieces) {
    const std::size_t begin = std::min(start, word_length);
    const std::size_t end = std::min(start + piece.length, word_length);
    const std::string* value = tokens_.find(piece.id);
    out.push_back({piece.id, value ? *value : std::string(), begin, end});
    start += piece.length;
  }
}

void BpeModel::tokenize(std::string_view sequence, std::vector<Token>& out) const {
  if (sequence.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = find_id(vocab_, sequence)) {
      out.push_back({*id, std::string(sequence), 0, sequence.size()});
      return;
    }
  }
  {
    std::shared_lock lock(cache_mutex_);
    const auto it = cache_.find(sequence);
    if (it != cache_.end()) {
      emit(it->second, sequence.size(), out);
      return;
    }
  }
  std::vector<Piece> pieces = merge_word(sequence);
  emit(pieces, sequence.size(), out);
  if (sequence.size() < kMaxCachedWordBytes) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(sequence), std::move(pieces));
  }
}

}  // namespace hfcpp::tok
