#include "pattern.h"

#include "unicode.h"

namespace hfcpp::tok {

namespace {

// Collects matches as segments, filling the gaps between them with non-matching segments.
struct SegmentWriter {
  std::vector<PatternSegment>& out;
  std::size_t previous_end = 0;
  void match(std::size_t start, std::size_t end) {
    if (start > previous_end) out.push_back({previous_end, start, false});
    out.push_back({start, end, true});
    previous_end = end;
  }
  void finish(std::size_t size) {
    if (previous_end < size) out.push_back({previous_end, size, false});
  }
};

}  // namespace

void LiteralPattern::find_matches(std::string_view text, std::vector<PatternSegment>& out) const {
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  SegmentWriter writer{out};
  if (!literal_.empty()) {
    std::size_t pos = 0;
    while ((pos = text.find(literal_, pos)) != std::string_view::npos) {
      writer.match(pos, pos + literal_.size());
      pos += literal_.size();
    }
  }
  writer.finish(text.size());
}

void RegexPattern::find_matches(std::string_view text, std::vector<PatternSegment>& out) const {
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  SegmentWriter writer{out};
  regex_->for_each_match(text, [&](std::size_t start, std::size_t end) { writer.match(start, end); });
  writer.finish(text.size());
}

void CharPattern::find_matches(std::string_view text, std::vector<PatternSegment>& out) const {
  if (text.empty()) {
    out.push_back({0, 0, false});
    return;
  }
  SegmentWriter writer{out};
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t len;
    const char32_t c = decode_utf8(text, pos, &len);
    if (predicate_(c)) writer.match(pos, pos + len);
    pos += len;
  }
  writer.finish(text.size());
}

void InvertedPattern::find_matches(std::string_view text, std::vector<PatternSegment>& out) const {
  const std::size_t first = out.size();
  inner_.find_matches(text, out);
  for (std::size_t i = first; i < out.size(); ++i) out[i].is_match = !out[i].is_match;
}

}  // namespace hfcpp::tok
