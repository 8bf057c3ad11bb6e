#include "normalized_string.h"

#include <algorithm>

#include "hfcpp/error.h"

namespace hfcpp::tok {

NormalizedString::NormalizedString(std::string_view text, std::size_t base_offset)
    : text_(text), origin_(static_cast<std::uint32_t>(base_offset)) {
  if (base_offset + text.size() > UINT32_MAX)
    throw ValueError("text too long to tokenize: " + std::to_string(text.size()) + " bytes");
  align_.resize(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t len = utf8_length(static_cast<unsigned char>(text[pos]));
    const Span span{static_cast<std::uint32_t>(base_offset + pos),
                    static_cast<std::uint32_t>(base_offset + pos + len)};
    for (std::size_t i = 0; i < len && pos + i < text.size(); ++i) align_[pos + i] = span;
    pos += len;
  }
}

Span NormalizedString::original_span(std::size_t begin, std::size_t end) const {
  if (begin >= end) {
    const std::uint32_t at =
        begin < align_.size() ? align_[begin].start : (align_.empty() ? origin_ : align_.back().end);
    return {at, at};
  }
  Span span{align_[begin].start, align_[end - 1].end};
  if (span.end < span.start) span.end = span.start;
  return span;
}

NormalizedString NormalizedString::slice(std::size_t begin, std::size_t end) const {
  NormalizedString piece;
  piece.text_ = text_.substr(begin, end - begin);
  piece.align_.assign(align_.begin() + static_cast<std::ptrdiff_t>(begin),
                      align_.begin() + static_cast<std::ptrdiff_t>(end));
  piece.origin_ = original_span(begin, end).start;
  return piece;
}

NormalizedString::Builder::Builder(std::size_t reserve) {
  text_.reserve(reserve);
  align_.reserve(reserve);
}

void NormalizedString::Builder::push(char32_t c, Span span) {
  const std::size_t before = text_.size();
  append_utf8(text_, c);
  align_.insert(align_.end(), text_.size() - before, span);
}

void NormalizedString::Builder::push_text(std::string_view utf8, Span span) {
  text_.append(utf8);
  align_.insert(align_.end(), utf8.size(), span);
}

void NormalizedString::Builder::push_aligned(std::string_view utf8, const Span* spans) {
  text_.append(utf8);
  align_.insert(align_.end(), spans, spans + utf8.size());
}

NormalizedString NormalizedString::Builder::finish(std::uint32_t origin) && {
  NormalizedString result;
  result.text_ = std::move(text_);
  result.align_ = std::move(align_);
  result.origin_ = origin;
  return result;
}

void NormalizedString::prepend(std::string_view s) {
  if (text_.empty() || s.empty()) return;
  const Span first = align_.front();
  text_.insert(0, s);
  align_.insert(align_.begin(), s.size(), first);
}

void NormalizedString::append(std::string_view s) {
  if (text_.empty() || s.empty()) return;
  const Span last = align_.back();
  text_.append(s);
  align_.insert(align_.end(), s.size(), last);
}

void NormalizedString::replace(const Pattern& pattern, std::string_view content) {
  std::vector<PatternSegment> segments;
  pattern.find_matches(text_, segments);
  bool any = false;
  for (const auto& segment : segments) any = any || (segment.is_match && segment.end > segment.start);
  if (!any) return;
  Builder builder(text_.size());
  for (const auto& segment : segments) {
    if (!segment.is_match) {
      builder.push_aligned(std::string_view(text_).substr(segment.start, segment.end - segment.start),
                           align_.data() + segment.start);
    } else if (segment.end > segment.start) {
      builder.push_text(content, original_span(segment.start, segment.end));
    }
  }
  *this = std::move(builder).finish(original_start());
}

void NormalizedString::strip(bool left, bool right) {
  std::size_t begin = 0, end = text_.size();
  if (left) {
    while (begin < end) {
      std::size_t len;
      if (!is_white_space(decode_utf8(text_, begin, &len))) break;
      begin += len;
    }
  }
  if (right) {
    while (end > begin) {
      std::size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text_[start]) & 0xC0) == 0x80) --start;
      std::size_t len;
      if (!is_white_space(decode_utf8(text_, start, &len))) break;
      end = start;
    }
  }
  if (begin != 0 || end != text_.size()) *this = slice(begin, end);
}

std::vector<NormalizedString> NormalizedString::split(const Pattern& pattern,
                                                      SplitBehavior behavior) const {
  std::vector<PatternSegment> matches;
  pattern.find_matches(text_, matches);

  // (start, end, remove) ranges, following each behaviour's rule.
  struct Piece {
    std::size_t start, end;
    bool remove;
  };
  std::vector<Piece> pieces;
  pieces.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::isolated:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::removed:
      for (const auto& m : matches) pieces.push_back({m.start, m.end, m.is_match});
      break;
    case SplitBehavior::contiguous: {
      bool previous_match = false;
      for (const auto& m : matches) {
        if (m.is_match == previous_match && !pieces.empty())
          pieces.back().end = m.end;
        else
          pieces.push_back({m.start, m.end, false});
        previous_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_previous: {
      bool previous_match = false;
      for (const auto& m : matches) {
        if (m.is_match && !previous_match && !pieces.empty())
          pieces.back().end = m.end;
        else
          pieces.push_back({m.start, m.end, false});
        previous_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::merged_with_next: {
      bool previous_match = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty())
          pieces.back().start = it->start;
        else
          pieces.push_back({it->start, it->end, false});
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }

  std::vector<NormalizedString> result;
  result.reserve(pieces.size());
  for (const auto& piece : pieces)
    if (!piece.remove && piece.end > piece.start) result.push_back(slice(piece.start, piece.end));
  return result;
}

}  // namespace hfcpp::tok
