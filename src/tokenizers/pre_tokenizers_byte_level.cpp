// ByteLevel pre-tokenizer (GPT-2, RoBERTa, Llama 3 ...).
#include "byte_level.h"
#include "pre_tokenizers.h"

namespace hfcpp::tok {

namespace {

std::shared_ptr<const Regex> gpt2_regex() {
  static const auto regex = std::make_shared<const Regex>(kGpt2SplitRegex);
  return regex;
}

// Replaces every byte by its stand-in character; all of a character's stand-ins keep the
// character's original span.
void map_to_byte_level(NormalizedString& text) {
  const std::string& s = text.text();
  const auto& align = text.alignments();
  NormalizedString::Builder out(s.size() * 2);
  for (std::size_t i = 0; i < s.size(); ++i)
    out.push_text(byte_level_char(static_cast<std::uint8_t>(s[i])), align[i]);
  text = std::move(out).finish(text.original_start());
}

}  // namespace

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
    : add_prefix_space_(add_prefix_space), use_regex_(use_regex), split_pattern_(gpt2_regex()) {}

void ByteLevelPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  text.split([&](NormalizedString&& piece, std::vector<NormalizedString>& out) {
    if (add_prefix_space_ && !piece.text().starts_with(' ')) piece.prepend(" ");
    if (use_regex_)
      out = piece.split(split_pattern_, SplitBehavior::isolated);
    else
      out.push_back(std::move(piece));
  });
  text.normalize(map_to_byte_level);
}

}  // namespace hfcpp::tok
