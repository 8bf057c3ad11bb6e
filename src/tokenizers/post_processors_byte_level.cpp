// ByteLevel post-processor: offsets that exclude the leading/trailing spaces of tokens.
#include "post_processors.h"
#include "unicode.h"

namespace hfcpp::tok {

namespace {

bool is_space_like(char32_t c) { return c == 0x120 /* 'Ġ' */ || is_white_space(c); }

}  // namespace

void trim_byte_level_offsets(Encoding& encoding, bool add_prefix_space) {
  for (std::size_t i = 0; i < encoding.size(); ++i) {
    const std::string& token = encoding.tokens[i];
    Offset& offset = encoding.offsets[i];
    std::size_t leading = 0, trailing = 0, pos = 0;
    std::vector<char32_t> chars;
    while (pos < token.size()) {
      std::size_t len;
      chars.push_back(decode_utf8(token, pos, &len));
      pos += len;
    }
    while (leading < chars.size() && is_space_like(chars[leading])) ++leading;
    while (trailing < chars.size() && is_space_like(chars[chars.size() - 1 - trailing])) ++trailing;
    if (leading > 0) {
      const bool is_first = i == 0 || offset.start == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;  // the space we added
      offset.start = std::min(offset.start + leading, offset.end);
    }
    if (trailing > 0 && offset.end >= trailing) offset.end = std::max(offset.end - trailing, offset.start);
  }
}

void ByteLevelPostProcessor::process(std::vector<Encoding>& encodings, bool) const {
  if (!trim_offsets_) return;
  for (auto& e : encodings) trim_byte_level_offsets(e, add_prefix_space_);
}

}  // namespace hfcpp::tok
