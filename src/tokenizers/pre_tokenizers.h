// Pre-tokenizers: cut the normalized text into words (pre-tokens) that the model encodes apart.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "components.h"
#include "json_view.h"

namespace hfcpp::tok {

// GPT-2: optional leading space, split with the GPT-2 regex, then every byte becomes its
// printable stand-in character.
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
  void pre_tokenize(PreTokenizedString& text) const override;
  bool add_prefix_space() const { return add_prefix_space_; }
  void set_add_prefix_space(bool value) { add_prefix_space_ = value; }
  bool use_regex() const { return use_regex_; }
  const Pattern& split_pattern() const { return split_pattern_; }

 private:
  bool add_prefix_space_, use_regex_;
  RegexPattern split_pattern_;
};

// Splits on whitespace (dropped) then isolates each punctuation character.
class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& text) const override;
};

// Words are runs of \w or runs of other non-space characters.
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  WhitespacePreTokenizer();
  void pre_tokenize(PreTokenizedString& text) const override;

 private:
  RegexPattern words_;
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& text) const override;
};

class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(PreTokenizedString& text) const override;

 private:
  SplitBehavior behavior_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits) : individual_digits_(individual_digits) {}
  void pre_tokenize(PreTokenizedString& text) const override;

 private:
  bool individual_digits_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Pattern> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(PreTokenizedString& text) const override;

 private:
  std::unique_ptr<Pattern> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

enum class PrependScheme { first, always, never };

// SentencePiece style: spaces become the replacement character (default "▁"), which is also
// prepended; optionally splits before each replacement character.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split),
        replacement_pattern_(replacement_) {}
  void pre_tokenize(PreTokenizedString& text) const override;
  void set_prepend_scheme(PrependScheme scheme) { scheme_ = scheme; }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
  LiteralPattern replacement_pattern_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(PreTokenizedString& text) const override {
    for (const auto& step : steps_) step->pre_tokenize(text);
  }
  std::vector<std::unique_ptr<PreTokenizer>>& steps() { return steps_; }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class CharDelimiterPreTokenizer : public PreTokenizer {
 public:
  explicit CharDelimiterPreTokenizer(std::string delimiter) : delimiter_(std::move(delimiter)) {}
  void pre_tokenize(PreTokenizedString& text) const override;

 private:
  LiteralPattern delimiter_;
};

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const JsonView& json, int depth = 0);
SplitBehavior split_behavior_from_json(const JsonView& json);
PrependScheme prepend_scheme_from_json(const JsonView& json);

}  // namespace hfcpp::tok
