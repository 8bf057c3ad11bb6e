// Character-level normalizers: Lowercase and StripAccents.
#include "normalizers.h"

namespace hfcpp::tok {

void LowercaseNormalizer::normalize(NormalizedString& text) const {
  bool changes = false;
  text.for_each_char([&](char32_t c, std::size_t, std::size_t, Span) {
    changes = changes || lowercase_changes(c);
  });
  if (!changes) return;
  text.map_chars([](char32_t c, Span span, NormalizedString::Builder& out) {
    if (c < 0x80) {
      out.push(c >= 'A' && c <= 'Z' ? c + 32 : c, span);
      return;
    }
    std::string lowered;
    append_lowercase(lowered, c);
    out.push_text(lowered, span);
  });
}

void StripAccentsNormalizer::normalize(NormalizedString& text) const {
  text.map_chars([](char32_t c, Span span, NormalizedString::Builder& out) {
    if (!is_mark_nonspacing(c)) out.push(c, span);
  });
}

}  // namespace hfcpp::tok
