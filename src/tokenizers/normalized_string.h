// NormalizedString: a piece of the input after normalization, with the alignment of every byte
// back to the original input, so token offsets can be reported in the user's text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pattern.h"

namespace hfcpp::tok {

// A byte range of the ORIGINAL input text (absolute, not relative to a piece).
struct Span {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
};

// What split() does with the parts a pattern matches (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

class NormalizedString {
 public:
  NormalizedString() = default;
  // Identity alignment: byte i of `text` comes from byte base_offset + i of the input.
  NormalizedString(std::string_view text, std::size_t base_offset);

  const std::string& text() const { return text_; }
  bool empty() const { return text_.empty(); }
  std::size_t size() const { return text_.size(); }
  const std::vector<Span>& alignments() const { return align_; }

  // Original span of the normalized byte range [begin, end); an empty range gives an empty span
  // at the position of `begin`.
  Span original_span(std::size_t begin, std::size_t end) const;
  // Where this piece starts in the original text.
  std::uint32_t original_start() const { return align_.empty() ? origin_ : align_.front().start; }

  NormalizedString slice(std::size_t begin, std::size_t end) const;

  // Builds the replacement of a NormalizedString char by char: each appended character carries
  // the original span it comes from.
  class Builder {
   public:
    explicit Builder(std::size_t reserve = 0);
    void push(char32_t c, Span span);
    void push_text(std::string_view utf8, Span span);
    // Copies characters that keep their alignments (one span per byte).
    void push_aligned(std::string_view utf8, const Span* spans);
    NormalizedString finish(std::uint32_t origin) &&;

   private:
    std::string text_;
    std::vector<Span> align_;
  };

  // Calls f(c, byte_position, byte_length, span) for every character.
  template <class F>
  void for_each_char(F&& f) const;

  // Rewrites every character: f(c, span, builder) appends what replaces it (nothing removes
  // it, several characters expand it; all of them take the character's original span).
  template <class F>
  void map_chars(F&& f);

  // Inserts `s` in front (aligned to the first character), only when not empty.
  void prepend(std::string_view s);
  void append(std::string_view s);
  void replace(const Pattern& pattern, std::string_view content);
  void strip(bool left, bool right);  // removes White_Space characters

  std::vector<NormalizedString> split(const Pattern& pattern, SplitBehavior behavior) const;

 private:
  std::string text_;
  std::vector<Span> align_;  // one per byte of text_
  std::uint32_t origin_ = 0;  // where an empty piece sits in the original text
  friend class Builder;
};

}  // namespace hfcpp::tok

#include "normalized_string_inl.h"
