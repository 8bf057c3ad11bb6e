// ByteLevel and ByteFallback decoders: both rebuild text from bytes.
#include "byte_level.h"
#include "decoders.h"
#include "unicode.h"

namespace hfcpp::tok {

void ByteLevelDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string bytes;
  for (const std::string& token : tokens) {
    const std::size_t before = bytes.size();
    bool all_mapped = true;
    std::size_t pos = 0;
    while (pos < token.size()) {
      std::size_t len;
      const int byte = byte_level_byte(decode_utf8(token, pos, &len));
      if (byte < 0) {
        all_mapped = false;
        break;
      }
      bytes.push_back(static_cast<char>(byte));
      pos += len;
    }
    // A token outside the byte alphabet (an added token) contributes its own bytes.
    if (!all_mapped) {
      bytes.resize(before);
      bytes += token;
    }
  }
  tokens.assign(1, utf8_lossy(bytes));
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a "<0xXX>" token, or -1.
int fallback_byte(const std::string& token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>') return -1;
  const int high = hex_value(token[3]), low = hex_value(token[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

}  // namespace

void ByteFallbackDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::vector<std::string> result;
  result.reserve(tokens.size());
  std::string pending;
  const auto flush = [&] {
    if (pending.empty()) return;
    if (find_invalid_utf8(pending) == std::string::npos)
      result.push_back(pending);
    else
      for (std::size_t i = 0; i < pending.size(); ++i) result.emplace_back("\xEF\xBF\xBD");
    pending.clear();
  };
  for (std::string& token : tokens) {
    const int byte = fallback_byte(token);
    if (byte >= 0) {
      pending.push_back(static_cast<char>(byte));
      continue;
    }
    flush();
    result.push_back(std::move(token));
  }
  flush();
  tokens = std::move(result);
}

}  // namespace hfcpp::tok
