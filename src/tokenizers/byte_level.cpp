#include "byte_level.h"

#include <array>

#include "unicode.h"

namespace hfcpp::tok {

namespace {

struct ByteLevelTable {
  std::array<std::string, 256> to_char;
  std::array<char32_t, 256> code_point{};
  std::array<int, 256 + 68> from_char{};
  ByteLevelTable() {
    from_char.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      code_point[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_char[b] = to_utf8(code_point[b]);
      from_char[code_point[b]] = b;
    }
  }
};

const ByteLevelTable& table() {
  static const ByteLevelTable instance;
  return instance;
}

}  // namespace

const std::string& byte_level_char(std::uint8_t byte) { return table().to_char[byte]; }

int byte_level_byte(char32_t c) {
  return c < 256 + 68 ? table().from_char[c] : -1;
}

}  // namespace hfcpp::tok
