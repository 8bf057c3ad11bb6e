// BertNormalizer, in one pass per enabled step (same order as the Rust implementation).
#include "normalizers.h"

namespace hfcpp::tok {

void BertNormalizer::normalize(NormalizedString& text) const {
  if (clean_text_) {
    text.map_chars([](char32_t c, Span span, NormalizedString::Builder& out) {
      if (c == 0 || c == 0xFFFD || is_bert_control(c)) return;
      out.push(is_bert_whitespace(c) ? U' ' : c, span);
    });
  }
  if (handle_chinese_chars_) {
    text.map_chars([](char32_t c, Span span, NormalizedString::Builder& out) {
      if (is_chinese_char(c)) {
        out.push(U' ', span);
        out.push(c, span);
        out.push(U' ', span);
      } else {
        out.push(c, span);
      }
    });
  }
  if (strip_accents_) {
    apply_normalization_form(text, NormalizationForm::nfd);
    text.map_chars([](char32_t c, Span span, NormalizedString::Builder& out) {
      if (!is_mark_nonspacing(c)) out.push(c, span);
    });
  }
  if (lowercase_) LowercaseNormalizer().normalize(text);
}

}  // namespace hfcpp::tok
