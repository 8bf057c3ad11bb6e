// AutoTokenizer::from_pretrained: a tokenizer from a model folder, as Transformers loads it.
//
// Files read (those that exist): tokenizer.json (preferred, the "fast" format), else the older
// vocab.json + merges.txt (byte-level BPE, GPT-2 / RoBERTa style) or vocab.txt (WordPiece, BERT
// style); and around them tokenizer_config.json, special_tokens_map.json, added_tokens.json.
// A folder with only a SentencePiece tokenizer.model is not supported (UnsupportedError).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "hfcpp/tokenizers/tokenizer.h"

namespace hfcpp {

// Keyword arguments of Transformers' from_pretrained that change how a tokenizer behaves; each
// one, when set, wins over tokenizer_config.json.
struct TokenizerOptions {
  // Add bos/eos around each sequence, as the slow GPT-2 and Llama tokenizers do
  // (bos $A eos, pair: bos $A eos bos $B eos). Applies to the tokenizer.json path too.
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  // Slow GPT-2 semantics: one space is prepended to the text before tokenization (so "Hello"
  // encodes as " Hello"); for a Metaspace / Prepend("▁") tokenizer, false stops the "▁" prefix.
  std::optional<bool> add_prefix_space;
  std::optional<bool> clean_up_tokenization_spaces;
  std::optional<Side> padding_side;
  std::optional<Side> truncation_side;
  std::optional<std::size_t> model_max_length;
  // false: ignore tokenizer.json and load the older files (Transformers' use_fast=False).
  bool use_fast = true;
};

class AutoTokenizer {
 public:
  // `path` is a model folder, or a tokenizer.json file.
  static Tokenizer from_pretrained(const std::filesystem::path& path,
                                   const TokenizerOptions& options = {});
};

}  // namespace hfcpp
