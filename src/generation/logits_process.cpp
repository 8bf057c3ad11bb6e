#include "hfcpp/generation/logits_process.h"

#include <ATen/ATen.h>

#include <cmath>
#include <sstream>

#include "hfcpp/error.h"

namespace hfcpp {
namespace {

std::string number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Scores of the EOS tokens set to -inf.
at::Tensor without_eos(const at::Tensor& scores, const std::vector<std::int64_t>& eos_token_ids) {
  const auto options = at::TensorOptions().dtype(at::kLong).device(scores.device());
  const at::Tensor vocab = at::arange(scores.size(-1), options);
  const at::Tensor eos = at::tensor(eos_token_ids, at::kLong).to(scores.device());
  const at::Tensor is_eos = at::isin(vocab, eos);
  return at::where(is_eos, at::full({}, -std::numeric_limits<double>::infinity(), scores.options()), scores);
}

void check_min_tokens_to_keep(std::int64_t n) {
  if (n < 1) throw ValueError("min_tokens_to_keep has to be a positive integer, but is " + std::to_string(n));
}

}  // namespace

RepetitionPenaltyLogitsProcessor::RepetitionPenaltyLogitsProcessor(double penalty) : penalty(penalty) {
  if (!(penalty > 0)) throw ValueError("repetition_penalty has to be a strictly positive float, but is " + number(penalty));
}

at::Tensor RepetitionPenaltyLogitsProcessor::operator()(const at::Tensor& input_ids, const at::Tensor& scores) const {
  const at::Tensor ids = input_ids.to(scores.device());
  at::Tensor score = scores.gather(1, ids);
  // Negative scores are multiplied so that the penalty always lowers the probability.
  score = at::where(score.lt(0), score.mul(penalty), score.div(penalty));
  return scores.scatter(1, ids, score);
}

MinLengthLogitsProcessor::MinLengthLogitsProcessor(std::int64_t min_length, std::vector<std::int64_t> eos_token_ids)
    : min_length(min_length), eos_token_ids(std::move(eos_token_ids)) {
  if (min_length < 0) throw ValueError("min_length has to be a non-negative integer, but is " + std::to_string(min_length));
}

at::Tensor MinLengthLogitsProcessor::operator()(const at::Tensor& input_ids, const at::Tensor& scores) const {
  if (input_ids.size(-1) < min_length) return without_eos(scores, eos_token_ids);
  return scores;
}

MinNewTokensLengthLogitsProcessor::MinNewTokensLengthLogitsProcessor(std::int64_t prompt_length,
                                                                     std::int64_t min_new_tokens,
                                                                     std::vector<std::int64_t> eos_token_ids)
    : prompt_length(prompt_length), min_new_tokens(min_new_tokens), eos_token_ids(std::move(eos_token_ids)) {
  if (min_new_tokens < 0)
    throw ValueError("min_new_tokens has to be a non-negative integer, but is " + std::to_string(min_new_tokens));
}

at::Tensor MinNewTokensLengthLogitsProcessor::operator()(const at::Tensor& input_ids, const at::Tensor& scores) const {
  if (input_ids.size(-1) - prompt_length < min_new_tokens) return without_eos(scores, eos_token_ids);
  return scores;
}

TemperatureLogitsWarper::TemperatureLogitsWarper(double temperature) : temperature(temperature) {
  if (!(temperature > 0))
    throw ValueError("temperature (=" + number(temperature) + ") has to be a strictly positive float, otherwise the "
                     "next token scores are invalid; for greedy decoding set do_sample=false");
}

at::Tensor TemperatureLogitsWarper::operator()(const at::Tensor&, const at::Tensor& scores) const {
  return scores.div(temperature);
}

TopKLogitsWarper::TopKLogitsWarper(std::int64_t top_k, std::int64_t min_tokens_to_keep, double filter_value)
    : top_k(std::max(top_k, min_tokens_to_keep)), filter_value(filter_value) {
  if (top_k <= 0) throw ValueError("top_k has to be a strictly positive integer, but is " + std::to_string(top_k));
}

at::Tensor TopKLogitsWarper::operator()(const at::Tensor&, const at::Tensor& scores) const {
  const std::int64_t k = std::min(top_k, scores.size(-1));
  const at::Tensor kth = std::get<0>(at::topk(scores, k)).narrow(-1, k - 1, 1);
  return scores.masked_fill(scores.lt(kth), filter_value);
}

TopPLogitsWarper::TopPLogitsWarper(double top_p, std::int64_t min_tokens_to_keep, double filter_value)
    : top_p(top_p), min_tokens_to_keep(min_tokens_to_keep), filter_value(filter_value) {
  if (!(top_p >= 0 && top_p <= 1.0)) throw ValueError("top_p has to be a float in [0, 1], but is " + number(top_p));
  check_min_tokens_to_keep(min_tokens_to_keep);
}

at::Tensor TopPLogitsWarper::operator()(const at::Tensor&, const at::Tensor& scores) const {
  auto [sorted_logits, sorted_indices] = at::sort(scores, /*dim=*/-1, /*descending=*/false);
  const at::Tensor cumulative = sorted_logits.softmax(-1).cumsum(-1);
  // Ascending order: drop the low tail whose total probability is at most 1 - top_p.
  at::Tensor remove = cumulative.le(1 - top_p);
  const std::int64_t keep = std::min(min_tokens_to_keep, scores.size(-1));
  remove.narrow(-1, scores.size(-1) - keep, keep).fill_(false);
  return scores.masked_fill(remove.scatter(1, sorted_indices, remove), filter_value);
}

MinPLogitsWarper::MinPLogitsWarper(double min_p, std::int64_t min_tokens_to_keep, double filter_value)
    : min_p(min_p), min_tokens_to_keep(min_tokens_to_keep), filter_value(filter_value) {
  if (!(min_p >= 0 && min_p <= 1.0)) throw ValueError("min_p has to be a float in [0, 1], but is " + number(min_p));
  check_min_tokens_to_keep(min_tokens_to_keep);
}

at::Tensor MinPLogitsWarper::operator()(const at::Tensor&, const at::Tensor& scores) const {
  const at::Tensor probs = at::softmax(scores, -1);
  const at::Tensor top_probs = std::get<0>(probs.max(-1, /*keepdim=*/true));
  const at::Tensor to_remove = probs.lt(top_probs.mul(min_p));
  const at::Tensor sorted_indices = at::argsort(scores, /*dim=*/-1, /*descending=*/true);
  at::Tensor sorted_remove = to_remove.gather(-1, sorted_indices);
  sorted_remove.narrow(-1, 0, std::min(min_tokens_to_keep, scores.size(-1))).fill_(false);
  return scores.masked_fill(sorted_remove.scatter(1, sorted_indices, sorted_remove), filter_value);
}

at::Tensor LogitNormalization::operator()(const at::Tensor&, const at::Tensor& scores) const {
  return scores.log_softmax(-1);
}

at::Tensor LogitsProcessorList::operator()(const at::Tensor& input_ids, at::Tensor scores) const {
  for (const auto& processor : processors_) scores = (*processor)(input_ids, scores);
  return scores;
}

LogitsProcessorList build_logits_processors(const GenerationConfig& config, std::int64_t prompt_length,
                                            const std::vector<std::int64_t>& eos_token_ids) {
  LogitsProcessorList list;
  if (config.repetition_penalty() != 1.0)
    list.push_back(std::make_unique<RepetitionPenaltyLogitsProcessor>(config.repetition_penalty()));
  if (config.min_length() > 0 && !eos_token_ids.empty())
    list.push_back(std::make_unique<MinLengthLogitsProcessor>(config.min_length(), eos_token_ids));
  if (config.min_new_tokens().value_or(0) > 0 && !eos_token_ids.empty())
    list.push_back(
        std::make_unique<MinNewTokensLengthLogitsProcessor>(prompt_length, *config.min_new_tokens(), eos_token_ids));
  if (config.do_sample()) {
    // Beam search keeps at least one non-EOS continuation per beam.
    const std::int64_t min_keep =
        config.num_beams() > 1 ? (eos_token_ids.empty() ? 2 : static_cast<std::int64_t>(eos_token_ids.size()) + 1) : 1;
    // An explicit null switches a warper off, as None does in Python.
    auto is_set = [&](const char* key) { return !config.has(key) || !config.at(key).is_null(); };
    if (is_set("temperature") && config.temperature() != 1.0)
      list.push_back(std::make_unique<TemperatureLogitsWarper>(config.temperature()));
    if (is_set("top_k") && config.top_k() != 0) list.push_back(std::make_unique<TopKLogitsWarper>(config.top_k(), min_keep));
    if (is_set("top_p") && config.top_p() < 1.0)
      list.push_back(std::make_unique<TopPLogitsWarper>(config.top_p(), min_keep));
    if (config.min_p()) list.push_back(std::make_unique<MinPLogitsWarper>(*config.min_p(), min_keep));
  }
  if (config.get_or<bool>("renormalize_logits", false)) list.push_back(std::make_unique<LogitNormalization>());
  return list;
}

}  // namespace hfcpp
