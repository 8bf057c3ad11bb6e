// The byte-level BPE fast path (see TokenizerState::byte_level_fast_path): regex split of the raw
// text, each word mapped to byte-level characters in a reused buffer and looked up in the BPE word
// cache; offsets are mapped back through a reused byte index.
#include <cstdlib>

#include "byte_level.h"
#include "models.h"
#include "pre_tokenizers.h"
#include "tokenizer_state.h"
#include "unicode.h"

namespace hfcpp::tok {

void TokenizerState::prepare() {
  added.build(normalizer.get());
  const auto* byte_level = dynamic_cast<const ByteLevelPreTokenizer*>(pre_tokenizer.get());
  const char* disabled = std::getenv("HFCPP_TOKENIZERS_NO_FAST_PATH");
  byte_level_fast_path = !normalizer && byte_level && byte_level->use_regex() && !byte_level->add_prefix_space() &&
                         dynamic_cast<const BpeModel*>(model.get()) && !(disabled && *disabled && *disabled != '0');
}

void TokenizerState::encode_byte_level_fast(std::string_view text, Encoding& e) const {
  const auto& split_pattern = static_cast<const ByteLevelPreTokenizer&>(*pre_tokenizer).split_pattern();
  std::vector<PatternSegment> segments;
  std::vector<Token> tokens;
  std::string word;                        // the byte-level form of one pre-token
  std::vector<std::uint32_t> source_byte;  // for each byte of `word`, the byte of `text` it stands for
  std::int64_t word_index = 0;
  const auto char_start = [&](std::size_t i) {
    while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
    return i;
  };
  const auto char_end = [&](std::size_t i) {  // end of the character holding byte i
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    return i;
  };
  const auto push = [&](std::uint32_t id, std::string&& value, std::size_t start, std::size_t end) {
    e.ids.push_back(id);
    e.tokens.push_back(std::move(value));
    e.offsets.push_back({start, end});
    e.word_ids.push_back(word_index);
  };
  for (const auto& part : added.split_without_normalizer(text)) {
    if (part.token >= 0) {
      const AddedToken& token = added.tokens()[static_cast<std::size_t>(part.token)];
      push(token.id, std::string(token.content), part.start, part.end);
      ++word_index;
      continue;
    }
    const std::string_view piece = text.substr(part.start, part.end - part.start);
    segments.clear();
    split_pattern.find_matches(piece, segments);
    for (const auto& segment : segments) {
      if (segment.end <= segment.start) continue;
      word.clear();
      source_byte.clear();
      for (std::size_t i = segment.start; i < segment.end; ++i) {
        const std::string& mapped = byte_level_char(static_cast<std::uint8_t>(piece[i]));
        word += mapped;
        source_byte.insert(source_byte.end(), mapped.size(), static_cast<std::uint32_t>(part.start + i));
      }
      tokens.clear();
      model->tokenize(word, tokens);
      for (Token& token : tokens) {
        std::size_t start = part.start + segment.start, end = start;
        if (token.end > token.start) {
          start = char_start(source_byte[token.start]);
          end = char_end(source_byte[token.end - 1]);
        }
        push(token.id, std::move(token.value), start, end);
      }
      ++word_index;
    }
  }
}

}  // namespace hfcpp::tok
