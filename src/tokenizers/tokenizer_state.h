// What a loaded Tokenizer holds: the pipeline stages, the added tokens and the Transformers-level
// settings read from tokenizer_config.json.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "added_vocabulary.h"
#include "components.h"
#include "hfcpp/tokenizers/tokenizer.h"

namespace hfcpp::tok {

struct SpecialTokenNames {
  std::optional<std::string> bos, eos, unk, pad, sep, cls, mask;
  std::vector<std::string> additional;
};

struct TokenizerState {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;

  SpecialTokenNames special;
  bool prepend_space = false;  // slow GPT-2 add_prefix_space: " " + text before anything else
  bool add_bos_token = false;
  bool add_eos_token = false;
  bool clean_up_tokenization_spaces = false;
  Side padding_side = Side::right;
  Side truncation_side = Side::right;
  std::optional<std::size_t> model_max_length;

  // Set by prepare(): the pipeline is "no normalizer, ByteLevel regex split, BPE" (GPT-2 and
  // most byte-level BPEs), which encode_sequence runs without building a NormalizedString per
  // word. The general path gives the same result (tests compare both); the environment
  // variable HFCPP_TOKENIZERS_NO_FAST_PATH=1 turns this off.
  bool byte_level_fast_path = false;
  // Builds the added-token matchers and picks the fast path; call once the pipeline is final.
  void prepare();

  std::optional<std::uint32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(std::uint32_t id) const;

  // One sequence through added tokens, normalizer, pre-tokenizer and model (no special tokens).
  Encoding encode_sequence(std::string_view text, std::int64_t sequence_id) const;
  void encode_byte_level_fast(std::string_view text, Encoding& e) const;
  void encode_general(std::string_view text, Encoding& e) const;
  // Truncation, post-processing (special tokens) and padding of one input.
  Encoding finish(Encoding first, std::optional<Encoding> second, const EncodeOptions& options,
                  bool pad_single) const;
};

// Encoding helpers (encoding_ops.cpp).
void truncate_encoding(Encoding& encoding, std::size_t max_length, Side side);
void truncate_pair(Encoding& first, Encoding& second, std::size_t max_length, Side side);
void append_encoding(Encoding& target, Encoding&& source);
void reserve_encoding(Encoding& encoding, std::size_t size);
void pad_encoding(Encoding& encoding, std::size_t length, std::int64_t pad_id, const std::string& pad_token,
                  Side side);

// Transformers' clean_up_tokenization (PreTrainedTokenizerBase).
std::string transformers_cleanup(std::string text);

}  // namespace hfcpp::tok
