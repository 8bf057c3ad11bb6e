// Truncation, concatenation and padding of Encodings.
#include <algorithm>

#include "tokenizer_state.h"

namespace hfcpp::tok {

namespace {

template <class T>
void keep_range(std::vector<T>& v, std::size_t begin, std::size_t count) {
  if (begin > 0) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(begin));
  v.resize(count);
}

template <class T>
void append(std::vector<T>& target, std::vector<T>& source) {
  target.insert(target.end(), std::make_move_iterator(source.begin()), std::make_move_iterator(source.end()));
}

template <class T>
void pad(std::vector<T>& v, std::size_t count, const T& value, Side side) {
  if (side == Side::right)
    v.insert(v.end(), count, value);
  else
    v.insert(v.begin(), count, value);
}

}  // namespace

void truncate_encoding(Encoding& e, std::size_t max_length, Side side) {
  if (e.size() <= max_length) return;
  const std::size_t begin = side == Side::right ? 0 : e.size() - max_length;
  keep_range(e.ids, begin, max_length);
  keep_range(e.tokens, begin, max_length);
  keep_range(e.type_ids, begin, max_length);
  keep_range(e.attention_mask, begin, max_length);
  keep_range(e.special_tokens_mask, begin, max_length);
  keep_range(e.offsets, begin, max_length);
  keep_range(e.word_ids, begin, max_length);
  keep_range(e.sequence_ids, begin, max_length);
}

// "longest_first", computed as the Rust tokenizers do: the shorter sequence keeps what it can.
void truncate_pair(Encoding& first, Encoding& second, std::size_t max_length, Side side) {
  std::size_t n1 = first.size(), n2 = second.size();
  if (n1 + n2 <= max_length) return;
  const bool swapped = n1 > n2;
  if (swapped) std::swap(n1, n2);
  if (n1 > max_length)
    n2 = n1;
  else
    n2 = std::max(n1, max_length - n1);
  if (n1 + n2 > max_length) {
    n1 = max_length / 2;
    n2 = n1 + max_length % 2;
  }
  if (swapped) std::swap(n1, n2);
  truncate_encoding(first, n1, side);
  truncate_encoding(second, n2, side);
}

void reserve_encoding(Encoding& e, std::size_t size) {
  e.ids.reserve(size);
  e.tokens.reserve(size);
  e.type_ids.reserve(size);
  e.attention_mask.reserve(size);
  e.special_tokens_mask.reserve(size);
  e.offsets.reserve(size);
  e.word_ids.reserve(size);
  e.sequence_ids.reserve(size);
}

void append_encoding(Encoding& target, Encoding&& source) {
  append(target.ids, source.ids);
  append(target.tokens, source.tokens);
  append(target.type_ids, source.type_ids);
  append(target.attention_mask, source.attention_mask);
  append(target.special_tokens_mask, source.special_tokens_mask);
  append(target.offsets, source.offsets);
  append(target.word_ids, source.word_ids);
  append(target.sequence_ids, source.sequence_ids);
}

void pad_encoding(Encoding& e, std::size_t length, std::int64_t pad_id, const std::string& pad_token,
                  Side side) {
  if (e.size() >= length) return;
  const std::size_t n = length - e.size();
  pad(e.ids, n, pad_id, side);
  pad(e.tokens, n, pad_token, side);
  pad(e.type_ids, n, std::int64_t{0}, side);
  pad(e.attention_mask, n, std::int64_t{0}, side);
  pad(e.special_tokens_mask, n, std::int64_t{1}, side);
  pad(e.offsets, n, Offset{0, 0}, side);
  pad(e.word_ids, n, std::int64_t{-1}, side);
  pad(e.sequence_ids, n, std::int64_t{-1}, side);
}

std::string transformers_cleanup(std::string text) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
      {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0, hit;
    while ((hit = text.find(from, pos)) != std::string::npos) {
      out.append(text, pos, hit - pos);
      out.append(to);
      pos = hit + from.size();
    }
    out.append(text, pos);
    text = std::move(out);
  }
  return text;
}

}  // namespace hfcpp::tok
