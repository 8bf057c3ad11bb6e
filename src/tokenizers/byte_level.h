// GPT-2's reversible byte <-> printable character table: bytes that are printable Latin-1 map to
// themselves, the other 68 to U+0100 onwards (so ' ' becomes 'Ġ', '\n' becomes 'Ċ').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hfcpp::tok {

// UTF-8 of the character that stands for `byte`.
const std::string& byte_level_char(std::uint8_t byte);
// The byte a character stands for, or -1 when it is not in the table.
int byte_level_byte(char32_t c);

// GPT-2's pre-tokenization regex.
inline constexpr const char* kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace hfcpp::tok
