// Building a TokenizerState from files: tokenizer.json, and the older vocab.json + merges.txt /
// vocab.txt pairs (built the way Transformers' slow->fast converters build them).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tokenizer_state.h"

namespace hfcpp::tok {

// Whole file as bytes; FileError when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// `file` names the source in error messages. The added tokens are registered but not built
// (call state.added.build(normalizer) once the pipeline is final).
std::shared_ptr<TokenizerState> load_tokenizer_json(std::string_view text, const std::string& file);

// GPT-2 style byte-level BPE: ByteLevel pre-tokenizer and decoder, ByteLevel post-processor
// (trim_offsets=false), no normalizer.
std::shared_ptr<TokenizerState> load_vocab_json_and_merges(const std::filesystem::path& vocab_json,
                                                           const std::filesystem::path& merges_txt);

struct BertSettings {
  bool do_lower_case = true;
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  std::string unk_token = "[UNK]";
};

// BERT style WordPiece: BertNormalizer, BertPreTokenizer, WordPiece decoder (no post-processor:
// the caller adds the [CLS]/[SEP] template).
std::shared_ptr<TokenizerState> load_vocab_txt(const std::filesystem::path& vocab_txt,
                                               const BertSettings& settings);

}  // namespace hfcpp::tok
