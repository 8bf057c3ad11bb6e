#include "added_vocabulary.h"

#include "unicode.h"

namespace hfcpp::tok {

void TokenMatcher::add(std::string_view text, std::size_t index) {
  if (text.empty()) return;
  std::uint64_t node = 0;
  for (const char ch : text) {
    const std::uint64_t key = (node << 8) | static_cast<unsigned char>(ch);
    if (const auto* child = edges_.find(key)) {
      node = *child;
    } else {
      const std::uint64_t created = terminal_.size();
      terminal_.push_back(-1);
      edges_.set(key, created);
      node = created;
    }
  }
  if (terminal_[node] < 0) terminal_[node] = static_cast<std::int64_t>(index);
  first_bytes_[static_cast<unsigned char>(text[0])] = true;
}

std::optional<std::pair<std::size_t, std::size_t>> TokenMatcher::longest_at(std::string_view text,
                                                                            std::size_t pos) const {
  std::optional<std::pair<std::size_t, std::size_t>> best;
  std::uint64_t node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto* child = edges_.find((node << 8) | static_cast<unsigned char>(text[i]));
    if (!child) break;
    node = *child;
    if (terminal_[node] >= 0) best = {{i + 1 - pos, static_cast<std::size_t>(terminal_[node])}};
  }
  return best;
}

void AddedVocabulary::add(const AddedToken& token) {
  if (const auto it = by_content_.find(token.content); it != by_content_.end()) {
    for (auto& existing : tokens_)
      if (existing.content == token.content) {
        const std::uint32_t id = existing.id;
        existing = token;
        existing.id = id;
      }
    return;
  }
  by_content_.emplace(token.content, static_cast<std::uint32_t>(tokens_.size()));
  by_id_.emplace(token.id, tokens_.size());
  tokens_.push_back(token);
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(content);
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::find(std::uint32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

void AddedVocabulary::build(const Normalizer* normalizer) {
  raw_matcher_ = {};
  normalized_matcher_ = {};
  raw_indices_.clear();
  normalized_indices_.clear();
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    if (!token.normalized) {
      raw_matcher_.add(token.content, raw_indices_.size());
      raw_indices_.push_back(i);
      continue;
    }
    NormalizedString content(token.content, 0);
    if (normalizer) normalizer->normalize(content);
    normalized_matcher_.add(content.text(), normalized_indices_.size());
    normalized_indices_.push_back(i);
  }
}

namespace {

bool is_word_char(char32_t c) { return c == '_' || is_alphanumeric(c); }

char32_t last_char(std::string_view s) {
  std::size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  std::size_t len;
  return decode_utf8(s, start, &len);
}

// Start of the whitespace run that ends `s`.
std::size_t trailing_space_start(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    std::size_t len;
    if (!is_white_space(decode_utf8(s, start, &len))) break;
    end = start;
  }
  return end;
}

std::size_t leading_space_length(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t len;
    if (!is_white_space(decode_utf8(s, pos, &len))) break;
    pos += len;
  }
  return pos;
}

}  // namespace

std::vector<AddedVocabulary::Match> AddedVocabulary::find_matches(
    std::string_view text, const TokenMatcher& matcher, const std::vector<std::size_t>& indices) const {
  std::vector<Match> matches;
  if (matcher.empty()) return matches;
  std::size_t consumed = 0;  // end of the last accepted match (after rstrip)
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!matcher.may_start_with(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      continue;
    }
    const auto found = matcher.longest_at(text, pos);
    // Matches start on character boundaries only.
    if (!found || (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) {
      ++pos;
      continue;
    }
    const std::size_t match_end = pos + found->first;
    const AddedToken& token = tokens_[indices[found->second]];
    std::size_t start = pos, stop = match_end;
    pos = match_end;  // the search goes on after the match, accepted or not
    if (start < consumed) continue;
    if (token.single_word) {
      const bool space_before = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      std::size_t len = 0;
      const bool space_after = stop == text.size() || !is_word_char(decode_utf8(text, stop, &len));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), consumed);
    if (token.rstrip) stop += leading_space_length(text.substr(stop));
    matches.push_back({start, stop, static_cast<std::uint32_t>(indices[found->second])});
    consumed = stop;
    pos = std::max(pos, stop);
  }
  return matches;
}

PreTokenizedString AddedVocabulary::extract_and_normalize(std::string_view text,
                                                          const Normalizer* normalizer) const {
  PreTokenizedString result;
  auto& splits = result.splits();
  const auto add_token_split = [&](NormalizedString piece, std::uint32_t token_index) {
    const AddedToken& token = tokens_[token_index];
    PreTokenSplit split{std::move(piece), {}, true};
    split.tokens.push_back({token.id, token.content, 0, split.normalized.size()});
    splits.push_back(std::move(split));
  };
  const auto add_normalized_part = [&](std::string_view part, std::size_t base) {
    NormalizedString piece(part, base);
    if (normalizer) normalizer->normalize(piece);
    std::size_t previous = 0;
    for (const Match& m : find_matches(piece.text(), normalized_matcher_, normalized_indices_)) {
      if (m.start > previous) splits.push_back({piece.slice(previous, m.start), {}, false});
      add_token_split(piece.slice(m.start, m.end), m.token);
      previous = m.end;
    }
    if (previous < piece.size() || (previous == 0 && piece.empty()))
      splits.push_back({piece.slice(previous, piece.size()), {}, false});
  };

  std::size_t previous = 0;
  for (const Match& m : find_matches(text, raw_matcher_, raw_indices_)) {
    if (m.start > previous) add_normalized_part(text.substr(previous, m.start - previous), previous);
    add_token_split(NormalizedString(text.substr(m.start, m.end - m.start), m.start), m.token);
    previous = m.end;
  }
  if (previous < text.size() || text.empty())
    add_normalized_part(text.substr(previous), previous);
  // Empty pieces carry nothing to tokenize.
  std::erase_if(splits, [](const PreTokenSplit& s) { return !s.tokenized && s.normalized.empty(); });
  return result;
}

std::vector<AddedVocabulary::Part> AddedVocabulary::split_without_normalizer(std::string_view text) const {
  std::vector<Part> parts;
  const auto add_plain = [&](std::size_t start, std::size_t end) {
    std::size_t previous = start;
    for (const Match& m : find_matches(text.substr(start, end - start), normalized_matcher_, normalized_indices_)) {
      if (start + m.start > previous) parts.push_back({previous, start + m.start, -1});
      parts.push_back({start + m.start, start + m.end, m.token});
      previous = start + m.end;
    }
    if (previous < end) parts.push_back({previous, end, -1});
  };
  std::size_t previous = 0;
  for (const Match& m : find_matches(text, raw_matcher_, raw_indices_)) {
    if (m.start > previous) add_plain(previous, m.start);
    parts.push_back({m.start, m.end, m.token});
    previous = m.end;
  }
  if (previous < text.size()) add_plain(previous, text.size());
  return parts;
}

}  // namespace hfcpp::tok
