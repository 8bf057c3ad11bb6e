// hfcpp::Tokenizer: a Hugging Face tokenizer (the `tokenizers` pipeline plus the Transformers
// behaviour around it: special tokens, padding, truncation, decode cleanup).
//
//   auto tok = hfcpp::AutoTokenizer::from_pretrained("path/to/model");
//   hfcpp::Encoding e = tok.encode("Hello world");          // e.ids, e.tokens, e.offsets ...
//   auto batch = tok.encode_batch(texts, {.padding = hfcpp::Padding::longest});
//   std::string text = tok.decode(e.ids, /*skip_special_tokens=*/true);
//
// Text is UTF-8; invalid UTF-8 throws hfcpp::ValueError. Offsets are BYTE offsets into the
// UTF-8 input (Python reports character offsets: see to_char_offsets()).
// A Tokenizer is immutable after loading, cheap to copy (shared state) and safe to use from
// several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hfcpp {

// [start, end) in bytes of the input text; special tokens have {0, 0}.
struct Offset {
  std::size_t start = 0;
  std::size_t end = 0;
  bool operator==(const Offset&) const = default;
};

// One encoded sequence (or pair), with the fields of Python's BatchEncoding / tokenizers' Encoding.
struct Encoding {
  std::vector<std::int64_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::int64_t> type_ids;             // token_type_ids
  std::vector<std::int64_t> attention_mask;       // 1 = real token, 0 = padding
  std::vector<std::int64_t> special_tokens_mask;  // 1 = added by the post-processor or padding
  std::vector<Offset> offsets;                    // byte offsets into the input text
  std::vector<std::int64_t> word_ids;             // index of the pre-token (word), -1 for none
  std::vector<std::int64_t> sequence_ids;         // 0 = text, 1 = pair, -1 = special/padding

  std::size_t size() const { return ids.size(); }
  bool empty() const { return ids.empty(); }
};

// Converts byte offsets of an Encoding over `text` into Unicode code point offsets (what Python
// reports). `text` must be the string that was encoded.
std::vector<Offset> to_char_offsets(std::string_view text, std::span<const Offset> byte_offsets);

enum class Padding {
  do_not_pad,  // Transformers: padding=False
  longest,     // padding=True / "longest": to the longest sequence of the batch
  max_length,  // padding="max_length": to max_length (or model_max_length)
};

enum class Side { right, left };

// Arguments of Transformers' tokenizer __call__ that change the output.
struct EncodeOptions {
  bool add_special_tokens = true;
  Padding padding = Padding::do_not_pad;
  bool truncation = false;  // truncation=True means "longest_first"
  std::optional<std::size_t> max_length;           // default: model_max_length when needed
  std::optional<std::size_t> pad_to_multiple_of;
  std::optional<Side> padding_side;     // default: tokenizer_config.json's, else right
  std::optional<Side> truncation_side;  // default: tokenizer_config.json's, else right
};

namespace tok {
struct TokenizerState;
}

class Tokenizer {
 public:
  // A tokenizer.json alone (no Transformers config files around it). `source_name` names the
  // file in error messages.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json_string(std::string_view json,
                                    const std::string& source_name = "tokenizer.json");

  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;
  Encoding encode(std::string_view text, bool add_special_tokens) const;
  Encoding encode_pair(std::string_view text, std::string_view pair,
                       const EncodeOptions& options = {}) const;
  std::vector<Encoding> encode_batch(std::span<const std::string> texts,
                                     const EncodeOptions& options = {}) const;
  std::vector<Encoding> encode_batch(std::span<const std::string_view> texts,
                                     const EncodeOptions& options = {}) const;

  // The tokens as Transformers' tokenize(text): no special tokens added.
  std::vector<std::string> tokenize(std::string_view text) const;

  // clean_up_tokenization_spaces defaults to the value of tokenizer_config.json (Transformers).
  // Ids that are not in the vocabulary are skipped, as the Rust tokenizers do.
  std::string decode(std::span<const std::int64_t> ids, bool skip_special_tokens = false,
                     std::optional<bool> clean_up_tokenization_spaces = std::nullopt) const;
  std::vector<std::string> batch_decode(const std::vector<std::vector<std::int64_t>>& batch,
                                        bool skip_special_tokens = false,
                                        std::optional<bool> clean_up_tokenization_spaces =
                                            std::nullopt) const;

  std::optional<std::int64_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(std::int64_t id) const;
  std::vector<std::string> convert_ids_to_tokens(std::span<const std::int64_t> ids,
                                                 bool skip_special_tokens = false) const;

  // Transformers' `vocab_size`: the model's vocabulary without added tokens.
  std::size_t vocab_size() const;
  // Transformers' `len(tokenizer)`: distinct tokens of the vocabulary and the added tokens.
  std::size_t size() const;

  // Special tokens as Transformers names them; nullopt when the tokenizer has none.
  std::optional<std::string> bos_token() const;
  std::optional<std::string> eos_token() const;
  std::optional<std::string> unk_token() const;
  std::optional<std::string> pad_token() const;
  std::optional<std::string> sep_token() const;
  std::optional<std::string> cls_token() const;
  std::optional<std::string> mask_token() const;
  std::optional<std::int64_t> bos_token_id() const;
  std::optional<std::int64_t> eos_token_id() const;
  std::optional<std::int64_t> unk_token_id() const;
  std::optional<std::int64_t> pad_token_id() const;
  std::optional<std::int64_t> sep_token_id() const;
  std::optional<std::int64_t> cls_token_id() const;
  std::optional<std::int64_t> mask_token_id() const;
  // Every id of an added token marked special (what skip_special_tokens removes).
  std::vector<std::int64_t> all_special_ids() const;

  std::optional<std::size_t> model_max_length() const;
  bool add_bos_token() const;
  bool add_eos_token() const;
  bool clean_up_tokenization_spaces() const;

  explicit Tokenizer(std::shared_ptr<const tok::TokenizerState> state);
  const tok::TokenizerState& state() const { return *state_; }

 private:
  std::shared_ptr<const tok::TokenizerState> state_;
};

}  // namespace hfcpp
