// Models: turn one pre-token into tokens (BPE, WordPiece, Unigram, WordLevel).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "components.h"
#include "flat_map.h"
#include "json_view.h"
#include "vocabulary.h"

namespace hfcpp::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // empty = none
  std::string end_of_word_suffix;         // empty = none
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // Throws ValueError naming the merge when a merge refers to a token missing from `vocab`.
  BpeModel(TokenIds vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           BpeOptions options);
  void tokenize(std::string_view sequence, std::vector<Token>& out) const override;
  std::optional<std::uint32_t> token_to_id(std::string_view token) const override {
    return find_id(vocab_, token);
  }
  const std::string* id_to_token(std::uint32_t id) const override { return tokens_.find(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }
  void for_each_token(const std::function<void(const std::string&, std::uint32_t)>& f) const override {
    for (const auto& [token, id] : vocab_) f(token, id);
  }

 private:
  struct Piece {  // a token of a word: id and byte length in the word
    std::uint32_t id;
    std::uint32_t length;
  };
  std::vector<Piece> merge_word(std::string_view word) const;
  void emit(const std::vector<Piece>& pieces, std::size_t word_length, std::vector<Token>& out) const;

  TokenIds vocab_;
  TokenTable tokens_;
  FlatMap64 merges_;  // (left id << 32 | right id) -> (rank << 32 | merged id)
  BpeOptions options_;
  std::optional<std::uint32_t> unk_id_;
  std::array<std::optional<std::uint32_t>, 256> byte_fallback_ids_{};

  // word -> pieces, as the Rust BPE caches; bounded, cleared when full.
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<Piece>, StringHash, std::equal_to<>> cache_;
};

class WordPieceModel : public Model {
 public:
  WordPieceModel(TokenIds vocab, std::string unk_token, std::string continuing_subword_prefix,
                 std::size_t max_input_chars_per_word);
  void tokenize(std::string_view sequence, std::vector<Token>& out) const override;
  std::optional<std::uint32_t> token_to_id(std::string_view token) const override {
    return find_id(vocab_, token);
  }
  const std::string* id_to_token(std::uint32_t id) const override { return tokens_.find(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }
  void for_each_token(const std::function<void(const std::string&, std::uint32_t)>& f) const override {
    for (const auto& [token, id] : vocab_) f(token, id);
  }

 private:
  TokenIds vocab_;
  TokenTable tokens_;
  std::string unk_token_;
  std::string prefix_;
  std::size_t max_input_chars_per_word_;
};

class UnigramModel : public Model {
 public:
  UnigramModel(std::vector<std::pair<std::string, double>> pieces, std::optional<std::uint32_t> unk_id,
               bool byte_fallback);
  void tokenize(std::string_view sequence, std::vector<Token>& out) const override;
  std::optional<std::uint32_t> token_to_id(std::string_view token) const override {
    return find_id(ids_, token);
  }
  const std::string* id_to_token(std::uint32_t id) const override {
    return id < pieces_.size() ? &pieces_[id].first : nullptr;
  }
  std::size_t vocab_size() const override { return pieces_.size(); }
  void for_each_token(const std::function<void(const std::string&, std::uint32_t)>& f) const override {
    for (std::size_t i = 0; i < pieces_.size(); ++i) f(pieces_[i].first, static_cast<std::uint32_t>(i));
  }

 private:
  std::vector<std::string> best_segmentation(std::string_view text) const;

  std::vector<std::pair<std::string, double>> pieces_;
  TokenIds ids_;
  std::optional<std::uint32_t> unk_id_;
  bool byte_fallback_;
  double min_score_ = 0;
  // Byte trie of the pieces: edges (node << 8 | byte) -> child, terminals node -> piece id.
  FlatMap64 trie_edges_;
  std::vector<std::int64_t> trie_piece_;
};

class WordLevelModel : public Model {
 public:
  WordLevelModel(TokenIds vocab, std::string unk_token);
  void tokenize(std::string_view sequence, std::vector<Token>& out) const override;
  std::optional<std::uint32_t> token_to_id(std::string_view token) const override {
    return find_id(vocab_, token);
  }
  const std::string* id_to_token(std::uint32_t id) const override { return tokens_.find(id); }
  std::size_t vocab_size() const override { return vocab_.size(); }
  void for_each_token(const std::function<void(const std::string&, std::uint32_t)>& f) const override {
    for (const auto& [token, id] : vocab_) f(token, id);
  }

 private:
  TokenIds vocab_;
  TokenTable tokens_;
  std::string unk_token_;
};

std::unique_ptr<Model> model_from_json(const JsonView& json);
// A {"token": id, ...} object.
TokenIds vocab_from_json(const JsonView& json);

}  // namespace hfcpp::tok
