// Logits processors (Transformers' logits_process.py): each takes the sequences so far
// [batch, length] and the next-token scores [batch, vocab] and returns new scores. generate()
// builds the list from a GenerationConfig in Transformers' order; they can also be used alone.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "hfcpp/config/generation_config.h"

namespace hfcpp {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  virtual at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const = 0;
};

// Scores of tokens already in the sequence (prompt included): divided by `penalty` when
// positive, multiplied when negative. penalty > 0; 1 changes nothing.
class RepetitionPenaltyLogitsProcessor : public LogitsProcessor {
 public:
  explicit RepetitionPenaltyLogitsProcessor(double penalty);
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  double penalty;
};

// EOS scores are -inf while the sequence (prompt included) is shorter than min_length.
class MinLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinLengthLogitsProcessor(std::int64_t min_length, std::vector<std::int64_t> eos_token_ids);
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  std::int64_t min_length;
  std::vector<std::int64_t> eos_token_ids;
};

// EOS scores are -inf while fewer than min_new_tokens tokens follow the prompt.
class MinNewTokensLengthLogitsProcessor : public LogitsProcessor {
 public:
  MinNewTokensLengthLogitsProcessor(std::int64_t prompt_length, std::int64_t min_new_tokens,
                                    std::vector<std::int64_t> eos_token_ids);
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  std::int64_t prompt_length, min_new_tokens;
  std::vector<std::int64_t> eos_token_ids;
};

// scores / temperature (temperature > 0).
class TemperatureLogitsWarper : public LogitsProcessor {
 public:
  explicit TemperatureLogitsWarper(double temperature);
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  double temperature;
};

// Keeps the max(top_k, min_tokens_to_keep) highest scores (ties with the k-th kept too); the
// others become filter_value.
class TopKLogitsWarper : public LogitsProcessor {
 public:
  explicit TopKLogitsWarper(std::int64_t top_k, std::int64_t min_tokens_to_keep = 1,
                            double filter_value = -std::numeric_limits<double>::infinity());
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  std::int64_t top_k;
  double filter_value;
};

// Nucleus filtering: keeps the smallest set of highest-probability tokens whose probabilities sum
// to more than top_p (at least min_tokens_to_keep).
class TopPLogitsWarper : public LogitsProcessor {
 public:
  explicit TopPLogitsWarper(double top_p, std::int64_t min_tokens_to_keep = 1,
                            double filter_value = -std::numeric_limits<double>::infinity());
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  double top_p;
  std::int64_t min_tokens_to_keep;
  double filter_value;
};

// Keeps tokens whose probability is at least min_p times the top token's (at least
// min_tokens_to_keep).
class MinPLogitsWarper : public LogitsProcessor {
 public:
  explicit MinPLogitsWarper(double min_p, std::int64_t min_tokens_to_keep = 1,
                            double filter_value = -std::numeric_limits<double>::infinity());
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
  double min_p;
  std::int64_t min_tokens_to_keep;
  double filter_value;
};

// log_softmax of the scores (renormalize_logits), always last.
class LogitNormalization : public LogitsProcessor {
 public:
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& scores) const override;
};

class LogitsProcessorList {
 public:
  void push_back(std::unique_ptr<LogitsProcessor> processor) { processors_.push_back(std::move(processor)); }
  at::Tensor operator()(const at::Tensor& input_ids, at::Tensor scores) const;
  std::size_t size() const { return processors_.size(); }
  bool empty() const { return processors_.empty(); }
  const LogitsProcessor& operator[](std::size_t i) const { return *processors_.at(i); }

 private:
  std::vector<std::unique_ptr<LogitsProcessor>> processors_;
};

// The processors a GenerationConfig asks for, in Transformers 4.46's order: repetition penalty,
// min_length, min_new_tokens, then (when do_sample) temperature, top-k, top-p, min-p, and last the normalisation
// that renormalize_logits asks for. Beam
// search keeps at least 1 + number of EOS tokens in the filters. Throws ValueError for values
// Transformers rejects (temperature <= 0, top_p outside [0, 1], ...).
LogitsProcessorList build_logits_processors(const GenerationConfig& config, std::int64_t prompt_length,
                                            const std::vector<std::int64_t>& eos_token_ids);

}  // namespace hfcpp
