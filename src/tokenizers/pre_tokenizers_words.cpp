// Pre-tokenizers that split on character classes: Bert, Whitespace, WhitespaceSplit,
// Punctuation, Digits, CharDelimiterSplit.
#include "pre_tokenizers.h"

namespace hfcpp::tok {

namespace {

bool is_punctuation(char32_t c) { return is_bert_punctuation(c); }

template <class PatternT>
void split_all(PreTokenizedString& text, const PatternT& pattern, SplitBehavior behavior) {
  text.split([&](NormalizedString&& piece, std::vector<NormalizedString>& out) {
    out = piece.split(pattern, behavior);
  });
}

}  // namespace

void BertPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, CharPattern(is_white_space), SplitBehavior::removed);
  split_all(text, CharPattern(is_punctuation), SplitBehavior::isolated);
}

// \w+|[^\w\s]+ with Oniguruma's Unicode \w (letters, marks, decimal and letter numbers,
// connector punctuation, joiners): PCRE2 10.42's \w leaves out marks.
WhitespacePreTokenizer::WhitespacePreTokenizer()
    : words_(std::make_shared<const Regex>(
          R"([\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}]+|[^\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}\s]+)")) {}

void WhitespacePreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, InvertedPattern(words_), SplitBehavior::removed);
}

void WhitespaceSplitPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, CharPattern(is_white_space), SplitBehavior::removed);
}

void PunctuationPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, CharPattern(is_punctuation), behavior_);
}

void DigitsPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, CharPattern(is_numeric),
            individual_digits_ ? SplitBehavior::isolated : SplitBehavior::contiguous);
}

void CharDelimiterPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  split_all(text, delimiter_, SplitBehavior::removed);
}

void SplitPreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  if (invert_)
    split_all(text, InvertedPattern(*pattern_), behavior_);
  else
    split_all(text, *pattern_, behavior_);
}

}  // namespace hfcpp::tok
