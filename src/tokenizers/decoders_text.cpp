// Decoders that edit token strings: WordPiece, BPEDecoder, Metaspace, Fuse, Strip, Replace.
#include "decoders.h"
#include "unicode.h"

namespace hfcpp::tok {

namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

}  // namespace

std::string wordpiece_cleanup(std::string text) {
  replace_all(text, " .", ".");
  replace_all(text, " ?", "?");
  replace_all(text, " !", "!");
  replace_all(text, " ,", ",");
  replace_all(text, " ' ", "'");
  replace_all(text, " n't", "n't");
  replace_all(text, " 'm", "'m");
  replace_all(text, " do not", " don't");
  replace_all(text, " 's", "'s");
  replace_all(text, " 've", "'ve");
  replace_all(text, " 're", "'re");
  return text;
}

void WordPieceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string& token = tokens[i];
    if (i != 0) {
      if (!prefix_.empty() && token.starts_with(prefix_))
        token.erase(0, prefix_.size());
      else
        token.insert(0, " ");
    }
    if (cleanup_) token = wordpiece_cleanup(std::move(token));
  }
}

void BpeDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i)
    replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
}

void MetaspaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    // The first token loses its replacement characters when one was prepended at encoding.
    const bool drop = i == 0 && scheme_ != PrependScheme::never;
    replace_all(tokens[i], replacement_, drop ? "" : " ");
  }
}

void FuseDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string joined;
  for (const auto& token : tokens) joined += token;
  tokens.assign(1, std::move(joined));
}

void StripDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (std::string& token : tokens) {
    std::size_t begin = 0, end = token.size();
    for (std::size_t i = 0; i < start_ && std::string_view(token).substr(begin).starts_with(content_); ++i)
      begin += content_.size();
    for (std::size_t i = 0; i < stop_ && end >= begin + content_.size() &&
                            std::string_view(token).substr(0, end).ends_with(content_);
         ++i)
      end -= content_.size();
    token = token.substr(begin, end - begin);
  }
}

void ReplaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::vector<PatternSegment> segments;
  for (std::string& token : tokens) {
    segments.clear();
    pattern_->find_matches(token, segments);
    std::string replaced;
    for (const auto& segment : segments) {
      if (segment.is_match && segment.end > segment.start)
        replaced += content_;
      else
        replaced.append(token, segment.start, segment.end - segment.start);
    }
    token = std::move(replaced);
  }
}

}  // namespace hfcpp::tok
