// Patterns that split or replace text: a literal string, a regex, or a character predicate.
// find_matches() cuts the whole input into consecutive segments, each flagged as a match or not
// (the Rust tokenizers' Pattern trait).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "regex.h"

namespace hfcpp::tok {

struct PatternSegment {
  std::size_t start;
  std::size_t end;
  bool is_match;
};

class Pattern {
 public:
  virtual ~Pattern() = default;
  // Appends to `out` segments covering [0, text.size()); an empty text gives one empty
  // non-matching segment.
  virtual void find_matches(std::string_view text, std::vector<PatternSegment>& out) const = 0;
};

class LiteralPattern : public Pattern {
 public:
  explicit LiteralPattern(std::string literal) : literal_(std::move(literal)) {}
  void find_matches(std::string_view text, std::vector<PatternSegment>& out) const override;

 private:
  std::string literal_;
};

class RegexPattern : public Pattern {
 public:
  explicit RegexPattern(std::shared_ptr<const Regex> regex) : regex_(std::move(regex)) {}
  void find_matches(std::string_view text, std::vector<PatternSegment>& out) const override;

 private:
  std::shared_ptr<const Regex> regex_;
};

// Every character for which the predicate holds is a match of its own.
class CharPattern : public Pattern {
 public:
  explicit CharPattern(bool (*predicate)(char32_t)) : predicate_(predicate) {}
  void find_matches(std::string_view text, std::vector<PatternSegment>& out) const override;

 private:
  bool (*predicate_)(char32_t);
};

// Swaps what matches and what does not.
class InvertedPattern : public Pattern {
 public:
  explicit InvertedPattern(const Pattern& inner) : inner_(inner) {}
  void find_matches(std::string_view text, std::vector<PatternSegment>& out) const override;

 private:
  const Pattern& inner_;
};

}  // namespace hfcpp::tok
