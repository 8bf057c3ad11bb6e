// Normalizers: rewrite the text before it is split (lowercase, Unicode forms, BERT cleanup ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "components.h"
#include "json_view.h"

namespace hfcpp::tok {

// BERT: drop control characters and map whitespace to ' ' (clean_text), put spaces around CJK
// ideographs (handle_chinese_chars), remove accents (NFD then drop Mn; defaults to lowercase)
// and lowercase.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, std::optional<bool> strip_accents,
                 bool lowercase)
      : clean_text_(clean_text), handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents.value_or(lowercase)), lowercase_(lowercase) {}
  void normalize(NormalizedString& text) const override;

 private:
  bool clean_text_, handle_chinese_chars_, strip_accents_, lowercase_;
};

class UnicodeNormalizer : public Normalizer {  // NFC, NFD, NFKC, NFKD
 public:
  explicit UnicodeNormalizer(NormalizationForm form) : form_(form) {}
  void normalize(NormalizedString& text) const override;

 private:
  NormalizationForm form_;
};

// Shared by the Unicode normalizers and StripAccents: applies `form` to each run of characters
// that normalizes independently, keeping alignments at that granularity.
void apply_normalization_form(NormalizedString& text, NormalizationForm form);

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& text) const override { text.strip(left_, right_); }

 private:
  bool left_, right_;
};

// Removes combining marks (Mn); meant to follow NFD / NFKD, as in the Rust tokenizers.
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& text) const override;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(NormalizedString& text) const override { text.prepend(prefix_); }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Pattern> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(NormalizedString& text) const override { text.replace(*pattern_, content_); }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::string content_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(NormalizedString& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }
  std::vector<std::unique_ptr<Normalizer>>& steps() { return steps_; }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

// The normalizer described by a tokenizer.json "normalizer" object (null gives nullptr).
std::unique_ptr<Normalizer> normalizer_from_json(const JsonView& json, int depth = 0);

// {"String": "..."} or {"Regex": "..."}, as the Replace / Split JSON spells a pattern.
std::unique_ptr<Pattern> pattern_from_json(const JsonView& json);

// Limits nested Sequence depth so hostile files cannot exhaust the stack.
inline constexpr int kMaxJsonNesting = 64;

}  // namespace hfcpp::tok
