// Template members of NormalizedString (kept out of the class body for readability).
#pragma once

#include "unicode.h"

namespace hfcpp::tok {

template <class F>
void NormalizedString::for_each_char(F&& f) const {
  std::size_t pos = 0;
  while (pos < text_.size()) {
    std::size_t len;
    const char32_t c = decode_utf8(text_, pos, &len);
    f(c, pos, len, align_[pos]);
    pos += len;
  }
}

template <class F>
void NormalizedString::map_chars(F&& f) {
  Builder builder(text_.size());
  for_each_char([&](char32_t c, std::size_t, std::size_t, Span span) { f(c, span, builder); });
  const std::uint32_t origin = original_start();
  *this = std::move(builder).finish(origin);
}

}  // namespace hfcpp::tok
