// The encode / decode pipeline and the public Tokenizer methods.
#include "hfcpp/tokenizers/tokenizer.h"

#include <algorithm>

#include "hfcpp/error.h"
#include "tokenizer_state.h"
#include "unicode.h"

namespace hfcpp {

namespace tok {

std::optional<std::uint32_t> TokenizerState::token_to_id(std::string_view token) const {
  if (const AddedToken* added_token = added.find(token)) return added_token->id;
  return model->token_to_id(token);
}

const std::string* TokenizerState::id_to_token(std::uint32_t id) const {
  if (const AddedToken* added_token = added.find(id)) return &added_token->content;
  return model->id_to_token(id);
}

namespace {

void check_utf8(std::string_view text) {
  const std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos)
    throw ValueError("text is not valid UTF-8: invalid byte 0x" +
                     [&] {
                       static const char* hex = "0123456789abcdef";
                       const auto b = static_cast<unsigned char>(text[bad]);
                       return std::string{hex[b >> 4], hex[b & 15]};
                     }() +
                     " at byte offset " + std::to_string(bad));
}

}  // namespace

Encoding TokenizerState::encode_sequence(std::string_view text, std::int64_t sequence_id) const {
  check_utf8(text);
  std::string prefixed;
  if (prepend_space) {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  Encoding e;
  e.ids.reserve(text.size() / 3);
  e.tokens.reserve(text.size() / 3);
  e.offsets.reserve(text.size() / 3);
  e.word_ids.reserve(text.size() / 3);
  if (byte_level_fast_path) {
    encode_byte_level_fast(text, e);
    if (prepend_space)
      for (Offset& offset : e.offsets) {
        offset.start = offset.start > 0 ? offset.start - 1 : 0;
        offset.end = offset.end > 0 ? offset.end - 1 : 0;
      }
  } else {
    encode_general(text, e);
  }
  const std::size_t n = e.ids.size();
  e.type_ids.assign(n, sequence_id);
  e.attention_mask.assign(n, 1);
  e.special_tokens_mask.assign(n, 0);
  e.sequence_ids.assign(n, sequence_id);
  return e;
}

void TokenizerState::encode_general(std::string_view text, Encoding& e) const {
  PreTokenizedString pieces = added.extract_and_normalize(text, normalizer.get());
  if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);

  std::vector<Token> tokens;
  const auto& splits = pieces.splits();
  for (std::size_t word = 0; word < splits.size(); ++word) {
    const PreTokenSplit& split = splits[word];
    tokens.clear();
    if (split.tokenized)
      tokens = split.tokens;
    else
      model->tokenize(split.normalized.text(), tokens);
    for (Token& token : tokens) {
      const Span span = split.normalized.original_span(token.start, token.end);
      Offset offset{span.start, span.end};
      if (prepend_space) {  // report offsets in the caller's text, without our space
        offset.start = offset.start > 0 ? offset.start - 1 : 0;
        offset.end = offset.end > 0 ? offset.end - 1 : 0;
      }
      e.ids.push_back(token.id);
      e.tokens.push_back(std::move(token.value));
      e.offsets.push_back(offset);
      e.word_ids.push_back(static_cast<std::int64_t>(word));
    }
  }
}

Encoding TokenizerState::finish(Encoding first, std::optional<Encoding> second, const EncodeOptions& options,
                                bool pad_single) const {
  const bool is_pair = second.has_value();
  if (options.truncation) {
    const std::optional<std::size_t> limit = options.max_length ? options.max_length : model_max_length;
    if (limit) {
      std::size_t max_length = *limit;
      const std::size_t added_count =
          options.add_special_tokens && post_processor ? post_processor->added_tokens(is_pair) : 0;
      if (max_length < added_count)
        throw ValueError("max_length " + std::to_string(max_length) + " leaves no room for the " +
                         std::to_string(added_count) + " special tokens");
      max_length -= added_count;
      const Side side = options.truncation_side.value_or(truncation_side);
      if (is_pair)
        truncate_pair(first, *second, max_length, side);
      else
        truncate_encoding(first, max_length, side);
    }
  }
  std::vector<Encoding> parts;
  parts.push_back(std::move(first));
  if (is_pair) parts.push_back(std::move(*second));
  if (post_processor) post_processor->process(parts, options.add_special_tokens);
  Encoding result;
  if (parts.size() == 1) {
    result = std::move(parts.front());
  } else {
    std::size_t total = 0;
    for (const auto& part : parts) total += part.size();
    reserve_encoding(result, total);
    for (auto& part : parts) append_encoding(result, std::move(part));
  }

  if (pad_single && options.padding == Padding::max_length) {
    const std::optional<std::size_t> target = options.max_length ? options.max_length : model_max_length;
    if (target) {
      std::size_t length = *target;
      if (options.pad_to_multiple_of && *options.pad_to_multiple_of > 0)
        length = (length + *options.pad_to_multiple_of - 1) / *options.pad_to_multiple_of * *options.pad_to_multiple_of;
      if (!special.pad) throw ValueError("asking to pad but the tokenizer has no pad token");
      const auto pad_id = token_to_id(*special.pad);
      if (!pad_id) throw ValueError("pad token \"" + *special.pad + "\" is not in the vocabulary");
      pad_encoding(result, length, *pad_id, *special.pad, options.padding_side.value_or(padding_side));
    }
  }
  return result;
}

}  // namespace tok

using tok::TokenizerState;

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerState> state) : state_(std::move(state)) {}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  return state_->finish(state_->encode_sequence(text, 0), std::nullopt, options, true);
}

Encoding Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  return encode(text, options);
}

Encoding Tokenizer::encode_pair(std::string_view text, std::string_view pair, const EncodeOptions& options) const {
  return state_->finish(state_->encode_sequence(text, 0), state_->encode_sequence(pair, 1), options, true);
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string_view> texts,
                                              const EncodeOptions& options) const {
  std::vector<Encoding> batch;
  batch.reserve(texts.size());
  for (const auto& text : texts)
    batch.push_back(state_->finish(state_->encode_sequence(text, 0), std::nullopt, options,
                                   options.padding == Padding::max_length));
  if (options.padding == Padding::longest && !batch.empty()) {
    std::size_t length = 0;
    for (const auto& e : batch) length = std::max(length, e.size());
    if (options.pad_to_multiple_of && *options.pad_to_multiple_of > 0)
      length = (length + *options.pad_to_multiple_of - 1) / *options.pad_to_multiple_of * *options.pad_to_multiple_of;
    const auto pad_token = pad_token_id();
    if (!pad_token) throw ValueError("asking to pad but the tokenizer has no pad token");
    const Side side = options.padding_side.value_or(state_->padding_side);
    for (auto& e : batch) tok::pad_encoding(e, length, *pad_token, *state_->special.pad, side);
  }
  return batch;
}

std::vector<Encoding> Tokenizer::encode_batch(std::span<const std::string> texts,
                                              const EncodeOptions& options) const {
  std::vector<std::string_view> views(texts.begin(), texts.end());
  return encode_batch(std::span<const std::string_view>(views), options);
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  return encode(text, false).tokens;
}

std::vector<std::string> Tokenizer::convert_ids_to_tokens(std::span<const std::int64_t> ids,
                                                          bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const std::int64_t id : ids) {
    if (id < 0 || id >= static_cast<std::int64_t>(UINT32_MAX)) continue;
    const auto id32 = static_cast<std::uint32_t>(id);
    if (skip_special_tokens && state_->added.is_special(id32)) continue;
    if (const std::string* token = state_->id_to_token(id32)) tokens.push_back(*token);
  }
  return tokens;
}

std::string Tokenizer::decode(std::span<const std::int64_t> ids, bool skip_special_tokens,
                              std::optional<bool> clean_up_tokenization_spaces) const {
  std::vector<std::string> tokens = convert_ids_to_tokens(ids, skip_special_tokens);
  std::string text;
  if (state_->decoder) {
    state_->decoder->decode_chain(tokens);
    for (const auto& piece : tokens) text += piece;
  } else {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (i) text += ' ';
      text += tokens[i];
    }
  }
  if (clean_up_tokenization_spaces.value_or(state_->clean_up_tokenization_spaces))
    text = tok::transformers_cleanup(std::move(text));
  return text;
}

std::vector<std::string> Tokenizer::batch_decode(const std::vector<std::vector<std::int64_t>>& batch,
                                                 bool skip_special_tokens,
                                                 std::optional<bool> clean_up_tokenization_spaces) const {
  std::vector<std::string> texts;
  texts.reserve(batch.size());
  for (const auto& ids : batch) texts.push_back(decode(ids, skip_special_tokens, clean_up_tokenization_spaces));
  return texts;
}

std::optional<std::int64_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto id = state_->token_to_id(token);
  if (!id) return std::nullopt;
  return *id;
}

std::optional<std::string> Tokenizer::id_to_token(std::int64_t id) const {
  if (id < 0 || id >= static_cast<std::int64_t>(UINT32_MAX)) return std::nullopt;
  const std::string* token = state_->id_to_token(static_cast<std::uint32_t>(id));
  if (!token) return std::nullopt;
  return *token;
}

std::size_t Tokenizer::vocab_size() const { return state_->model->vocab_size(); }

std::size_t Tokenizer::size() const {
  std::size_t count = state_->model->vocab_size();
  for (const auto& token : state_->added.tokens())
    if (!state_->model->token_to_id(token.content)) ++count;
  return count;
}

namespace {
std::optional<std::int64_t> id_of(const Tokenizer& t, const std::optional<std::string>& token) {
  return token ? t.token_to_id(*token) : std::nullopt;
}
}  // namespace

std::optional<std::string> Tokenizer::bos_token() const { return state_->special.bos; }
std::optional<std::string> Tokenizer::eos_token() const { return state_->special.eos; }
std::optional<std::string> Tokenizer::unk_token() const { return state_->special.unk; }
std::optional<std::string> Tokenizer::pad_token() const { return state_->special.pad; }
std::optional<std::string> Tokenizer::sep_token() const { return state_->special.sep; }
std::optional<std::string> Tokenizer::cls_token() const { return state_->special.cls; }
std::optional<std::string> Tokenizer::mask_token() const { return state_->special.mask; }
std::optional<std::int64_t> Tokenizer::bos_token_id() const { return id_of(*this, state_->special.bos); }
std::optional<std::int64_t> Tokenizer::eos_token_id() const { return id_of(*this, state_->special.eos); }
std::optional<std::int64_t> Tokenizer::unk_token_id() const { return id_of(*this, state_->special.unk); }
std::optional<std::int64_t> Tokenizer::pad_token_id() const { return id_of(*this, state_->special.pad); }
std::optional<std::int64_t> Tokenizer::sep_token_id() const { return id_of(*this, state_->special.sep); }
std::optional<std::int64_t> Tokenizer::cls_token_id() const { return id_of(*this, state_->special.cls); }
std::optional<std::int64_t> Tokenizer::mask_token_id() const { return id_of(*this, state_->special.mask); }

std::vector<std::int64_t> Tokenizer::all_special_ids() const {
  std::vector<std::int64_t> ids;
  for (const auto& token : state_->added.tokens())
    if (token.special) ids.push_back(token.id);
  return ids;
}

std::optional<std::size_t> Tokenizer::model_max_length() const { return state_->model_max_length; }
bool Tokenizer::add_bos_token() const { return state_->add_bos_token; }
bool Tokenizer::add_eos_token() const { return state_->add_eos_token; }
bool Tokenizer::clean_up_tokenization_spaces() const { return state_->clean_up_tokenization_spaces; }

std::vector<Offset> to_char_offsets(std::string_view text, std::span<const Offset> byte_offsets) {
  // chars_before[i] = number of code points in text[0, i).
  std::vector<std::size_t> chars_before(text.size() + 1, 0);
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    chars_before[i] = count;
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;
  }
  chars_before[text.size()] = count;
  std::vector<Offset> result;
  result.reserve(byte_offsets.size());
  for (const Offset& o : byte_offsets) {
    const std::size_t start = std::min(o.start, text.size()), end = std::min(o.end, text.size());
    // An offset inside a character widens to the whole character.
    const bool start_inside = start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80;
    result.push_back({chars_before[start] - (start_inside ? 1 : 0), chars_before[end]});
  }
  return result;
}

}  // namespace hfcpp
