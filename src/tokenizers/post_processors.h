// Post-processors: add the special tokens around the encoded sequence(s) ([CLS] A [SEP], <s> A ...)
// and set token type ids; ByteLevel only trims offsets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "components.h"
#include "json_view.h"

namespace hfcpp::tok {

// An encoding of special tokens only (offsets {0,0}, no word, special mask 1).
Encoding special_tokens_encoding(const std::vector<std::int64_t>& ids,
                                 const std::vector<std::string>& tokens, std::int64_t type_id);
void set_type_ids(Encoding& encoding, std::int64_t type_id);
// Narrows byte-level token offsets so they do not cover the spaces a token starts/ends with.
void trim_byte_level_offsets(Encoding& encoding, bool add_prefix_space);

struct TemplatePiece {
  bool is_sequence = false;
  int sequence = 0;        // 0 = $A, 1 = $B
  std::string special_id;  // key into the special tokens, when !is_sequence
  std::int64_t type_id = 0;
};

struct TemplateSpecialToken {
  std::vector<std::int64_t> ids;
  std::vector<std::string> tokens;
};

class TemplateProcessing : public PostProcessor {
 public:
  TemplateProcessing(std::vector<TemplatePiece> single, std::vector<TemplatePiece> pair,
                     std::map<std::string, TemplateSpecialToken> special_tokens);
  std::size_t added_tokens(bool is_pair) const override;
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  std::vector<TemplatePiece> single_, pair_;
  std::map<std::string, TemplateSpecialToken> special_tokens_;
};

struct SpecialToken {
  std::string token;
  std::int64_t id;
};

class BertProcessing : public PostProcessor {
 public:
  BertProcessing(SpecialToken sep, SpecialToken cls) : sep_(std::move(sep)), cls_(std::move(cls)) {}
  std::size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  SpecialToken sep_, cls_;
};

class RobertaProcessing : public PostProcessor {
 public:
  RobertaProcessing(SpecialToken sep, SpecialToken cls, bool trim_offsets, bool add_prefix_space)
      : sep_(std::move(sep)), cls_(std::move(cls)), trim_offsets_(trim_offsets),
        add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  SpecialToken sep_, cls_;
  bool trim_offsets_, add_prefix_space_;
};

class ByteLevelPostProcessor : public PostProcessor {
 public:
  ByteLevelPostProcessor(bool trim_offsets, bool add_prefix_space)
      : trim_offsets_(trim_offsets), add_prefix_space_(add_prefix_space) {}
  std::size_t added_tokens(bool) const override { return 0; }
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  bool trim_offsets_, add_prefix_space_;
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  std::size_t added_tokens(bool is_pair) const override;
  void process(std::vector<Encoding>& encodings, bool add_special_tokens) const override;

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

std::unique_ptr<PostProcessor> post_processor_from_json(const JsonView& json, int depth = 0);

}  // namespace hfcpp::tok
