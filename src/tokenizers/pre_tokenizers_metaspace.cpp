// Metaspace pre-tokenizer (SentencePiece-converted tokenizers).
#include "pre_tokenizers.h"

namespace hfcpp::tok {

void MetaspacePreTokenizer::pre_tokenize(PreTokenizedString& text) const {
  text.split([&](NormalizedString&& piece, std::vector<NormalizedString>& out) {
    piece.replace(LiteralPattern(" "), replacement_);
    const bool prepend =
        !piece.text().starts_with(replacement_) &&
        (scheme_ == PrependScheme::always ||
         (scheme_ == PrependScheme::first && piece.original_start() == 0));
    if (prepend) piece.prepend(replacement_);
    if (split_)
      out = piece.split(replacement_pattern_, SplitBehavior::merged_with_next);
    else
      out.push_back(std::move(piece));
  });
}

}  // namespace hfcpp::tok
