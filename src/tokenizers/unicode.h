// Unicode helpers over UTF-8 strings: decoding, classification (from utf8proc's tables) and the
// per-character predicates the Rust tokenizers and Python's BERT tokenizer use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hfcpp::tok {

// Decodes the code point starting at s[pos] of VALID UTF-8 and stores its byte length in *len.
inline char32_t decode_utf8(std::string_view s, std::size_t pos, std::size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(s[pos + 1]) & 0x3Fu);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return ((b0 & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[pos + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[pos + 2]) & 0x3Fu);
  }
  *len = 4;
  return ((b0 & 0x07u) << 18) | ((static_cast<unsigned char>(s[pos + 1]) & 0x3Fu) << 12) |
         ((static_cast<unsigned char>(s[pos + 2]) & 0x3Fu) << 6) |
         (static_cast<unsigned char>(s[pos + 3]) & 0x3Fu);
}

// Byte length of the UTF-8 sequence that starts with `lead` (valid UTF-8 assumed).
inline std::size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t c);
std::string to_utf8(char32_t c);

// Offset of the first invalid byte, or npos when `s` is valid UTF-8 (no surrogates, no overlong
// forms, nothing above U+10FFFF).
std::size_t find_invalid_utf8(std::string_view s);

// Decodes arbitrary bytes, replacing each maximal invalid subpart by U+FFFD (what Python's
// errors="replace" and Rust's from_utf8_lossy do).
std::string utf8_lossy(std::string_view bytes);

std::size_t count_chars(std::string_view valid_utf8);

// General category, as utf8proc's UTF8PROC_CATEGORY_* values.
int category(char32_t c);
bool is_mark_nonspacing(char32_t c);  // Mn
bool is_punctuation_category(char32_t c);  // P*
bool is_letter(char32_t c);  // L*
bool is_numeric(char32_t c);  // N* (Rust's char::is_numeric)
bool is_other_category(char32_t c);  // C*
bool is_alphanumeric(char32_t c);  // Rust's char::is_alphanumeric (approximated by L* and N*)

// Rust's char::is_whitespace: the White_Space property.
bool is_white_space(char32_t c);
// BERT's definitions (identical in Python's BasicTokenizer and Rust's BertNormalizer).
bool is_bert_whitespace(char32_t c);
bool is_bert_control(char32_t c);
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or P*
bool is_chinese_char(char32_t c);

// Full lowercase mapping (U+0130 becomes two code points, like Rust's char::to_lowercase).
void append_lowercase(std::string& out, char32_t c);
bool lowercase_changes(char32_t c);

// Canonical combining class and whether `c` can be the second half of a canonical composition
// (the "NFC_Quick_Check=Maybe" characters, Hangul vowels and trailing consonants included).
int combining_class(char32_t c);
bool composes_with_previous(char32_t c);

enum class NormalizationForm { nfc, nfd, nfkc, nfkd };
// Normalizes valid UTF-8 with utf8proc.
std::string normalize(std::string_view s, NormalizationForm form);

}  // namespace hfcpp::tok
