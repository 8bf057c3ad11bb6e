// The five stages of a tokenizer pipeline (as in the Rust tokenizers) and the data passed along.
//
//   text -> added tokens split out -> Normalizer -> PreTokenizer -> Model -> PostProcessor
//   ids  -> tokens -> Decoder -> text
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hfcpp/tokenizers/tokenizer.h"
#include "normalized_string.h"

namespace hfcpp::tok {

// A token the model produced; start/end are byte offsets in the piece it was given.
struct Token {
  std::uint32_t id = 0;
  std::string value;
  std::size_t start = 0;
  std::size_t end = 0;
};

// A piece of the text on its way through the pipeline; added tokens arrive already tokenized.
struct PreTokenSplit {
  NormalizedString normalized;
  std::vector<Token> tokens;
  bool tokenized = false;
};

class PreTokenizedString {
 public:
  PreTokenizedString() = default;
  explicit PreTokenizedString(NormalizedString whole) {
    splits_.push_back({std::move(whole), {}, false});
  }
  std::vector<PreTokenSplit>& splits() { return splits_; }
  const std::vector<PreTokenSplit>& splits() const { return splits_; }

  // Replaces every split that is not tokenized yet by the pieces f(piece, out) produces; empty
  // pieces are dropped (as the Rust PreTokenizedString::split does).
  template <class F>
  void split(F&& f) {
    std::vector<PreTokenSplit> next;
    next.reserve(splits_.size());
    std::vector<NormalizedString> pieces;
    for (auto& split : splits_) {
      if (split.tokenized) {
        next.push_back(std::move(split));
        continue;
      }
      pieces.clear();
      f(std::move(split.normalized), pieces);
      for (auto& piece : pieces)
        if (!piece.empty()) next.push_back({std::move(piece), {}, false});
    }
    splits_ = std::move(next);
  }

  template <class F>
  void normalize(F&& f) {
    for (auto& split : splits_)
      if (!split.tokenized) f(split.normalized);
  }

 private:
  std::vector<PreTokenSplit> splits_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& text) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(PreTokenizedString& text) const = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the tokens of one pre-token (non-empty valid UTF-8) to `out`.
  virtual void tokenize(std::string_view sequence, std::vector<Token>& out) const = 0;
  virtual std::optional<std::uint32_t> token_to_id(std::string_view token) const = 0;
  // nullptr when `id` is not in the vocabulary.
  virtual const std::string* id_to_token(std::uint32_t id) const = 0;
  virtual std::size_t vocab_size() const = 0;
  virtual void for_each_token(const std::function<void(const std::string&, std::uint32_t)>& f) const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // How many special tokens process() adds, so truncation can leave room for them.
  virtual std::size_t added_tokens(bool is_pair) const = 0;
  // Rust's process_encodings: receives one encoding per sequence, may rewrite them; the caller
  // concatenates the result.
  virtual void process(std::vector<Encoding>& encodings, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings; the decoded text is their concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

}  // namespace hfcpp::tok
