// Added tokens ("<|endoftext|>", "[CLS]", user tokens): found in the text before the model runs,
// as the Rust AddedVocabulary does: tokens with normalized=false are matched in the raw text,
// the others in the normalized text (their content normalized too); longest match wins, with the
// lstrip / rstrip / single_word rules.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "components.h"
#include "flat_map.h"
#include "vocabulary.h"

namespace hfcpp::tok {

struct AddedToken {
  std::string content;
  std::uint32_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// Leftmost-longest matching of a set of strings (a byte trie scanned from each position).
class TokenMatcher {
 public:
  void add(std::string_view text, std::size_t index);
  bool empty() const { return terminal_.size() <= 1; }
  // Longest pattern starting at `pos`: its length and index, or nullopt.
  std::optional<std::pair<std::size_t, std::size_t>> longest_at(std::string_view text, std::size_t pos) const;
  bool may_start_with(unsigned char byte) const { return first_bytes_[byte]; }

 private:
  FlatMap64 edges_;
  std::vector<std::int64_t> terminal_{-1};
  std::array<bool, 256> first_bytes_{};
};

class AddedVocabulary {
 public:
  // Adds a token, or updates the flags of a token with the same content.
  void add(const AddedToken& token);
  // Builds the matchers; normalized tokens are matched after `normalizer` (may be null).
  void build(const Normalizer* normalizer);

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;
  const AddedToken* find(std::uint32_t id) const;
  bool is_special(std::uint32_t id) const {
    const AddedToken* token = find(id);
    return token && token->special;
  }

  // For pipelines without a normalizer: the parts of `text` in order, each plain text (token < 0)
  // or one added token (index into tokens()); same result as extract_and_normalize.
  struct Part {
    std::size_t start, end;
    std::int64_t token;
  };
  std::vector<Part> split_without_normalizer(std::string_view text) const;

  // Splits the added tokens out of `text` and normalizes what is left.
  PreTokenizedString extract_and_normalize(std::string_view text, const Normalizer* normalizer) const;

 private:
  struct Match {
    std::size_t start, end;
    std::uint32_t token;  // index into tokens_
  };
  std::vector<Match> find_matches(std::string_view text, const TokenMatcher& matcher,
                                  const std::vector<std::size_t>& indices) const;

  std::vector<AddedToken> tokens_;
  TokenIds by_content_;
  std::unordered_map<std::uint32_t, std::size_t> by_id_;
  TokenMatcher raw_matcher_, normalized_matcher_;
  std::vector<std::size_t> raw_indices_, normalized_indices_;  // matcher index -> tokens_ index
};

}  // namespace hfcpp::tok
