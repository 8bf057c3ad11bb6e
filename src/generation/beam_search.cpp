// Beam search as Transformers 4.46 runs it (BeamSearchScorer + BeamHypotheses): per prompt,
// num_beams running sequences ranked by their summed log-probabilities; a beam that picks an EOS
// token among the top num_beams candidates becomes a finished hypothesis scored
// sum_logprobs / generated_length ** length_penalty; early_stopping decides when a prompt is done.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "decoding.h"
#include "hfcpp/error.h"

namespace hfcpp::detail {
namespace {

struct Hypothesis {
  double score;
  at::Tensor tokens;  // prompt and generated tokens, without the final EOS
};

// The best num_beams finished hypotheses of one prompt.
class BeamHypotheses {
 public:
  BeamHypotheses(std::int64_t num_beams, double length_penalty, json early_stopping, std::int64_t max_length)
      : num_beams_(num_beams), length_penalty_(length_penalty), early_stopping_(std::move(early_stopping)),
        max_length_(max_length) {}

  std::size_t size() const { return beams_.size(); }
  const std::vector<Hypothesis>& beams() const { return beams_; }

  void add(at::Tensor tokens, double sum_logprobs, std::int64_t generated_length) {
    const double score = sum_logprobs / std::pow(static_cast<double>(generated_length), length_penalty_);
    if (static_cast<std::int64_t>(beams_.size()) < num_beams_ || score > worst_score_) {
      beams_.push_back({score, std::move(tokens)});
      if (static_cast<std::int64_t>(beams_.size()) > num_beams_) {
        // Drop the worst (the earliest among equals, as Python's sort of (score, index) does).
        std::vector<std::size_t> order(beams_.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
          return beams_[a].score != beams_[b].score ? beams_[a].score < beams_[b].score : a < b;
        });
        worst_score_ = beams_[order[1]].score;
        beams_.erase(beams_.begin() + static_cast<std::ptrdiff_t>(order[0]));
      } else {
        worst_score_ = std::min(score, worst_score_);
      }
    }
  }

  // Whether no running beam can still beat the kept hypotheses.
  bool is_done(double best_sum_logprobs, std::int64_t cur_len, std::int64_t prompt_len) const {
    if (static_cast<std::int64_t>(beams_.size()) < num_beams_) return false;
    if (early_stopping_.is_boolean() && early_stopping_.get<bool>()) return true;
    std::int64_t length = cur_len - prompt_len;
    // "never" with a positive length penalty: the best score a beam could reach at max_length.
    if (early_stopping_.is_string() && length_penalty_ > 0.0) {
      if (max_length_ <= prompt_len) throw ValueError("max_length is not larger than the prompt length");
      length = max_length_ - prompt_len;
    }
    const double highest_attainable = best_sum_logprobs / std::pow(static_cast<double>(length), length_penalty_);
    return worst_score_ >= highest_attainable;
  }

 private:
  std::int64_t num_beams_;
  double length_penalty_;
  json early_stopping_;
  std::int64_t max_length_;
  std::vector<Hypothesis> beams_;
  double worst_score_ = 1e9;
};

}  // namespace

GenerateOutput beam_search(PreTrainedModel& model, const at::Tensor& input_ids, const at::Tensor& attention_mask,
                           const GenerationConfig& config, const LogitsProcessorList& processors,
                           const std::vector<std::int64_t>& eos, const GenerateOptions& options,
                           const c10::optional<at::Generator>& generator) {
  const std::int64_t num_beams = config.num_beams();
  const std::int64_t batch = input_ids.size(0) / num_beams;
  const std::int64_t prompt = input_ids.size(1);
  const std::int64_t max_length = std::max(config.max_length(), prompt + 1);
  const std::int64_t keep_returned = config.num_return_sequences();
  const auto pad = config.pad_token_id();
  const bool static_cache = config.cache_implementation().value_or("dynamic") == "static";
  Decoder decoder(model, attention_mask, max_length, static_cache);

  std::vector<BeamHypotheses> hypotheses;
  for (std::int64_t i = 0; i < batch; ++i)
    hypotheses.emplace_back(num_beams, config.length_penalty(), config.early_stopping(), max_length);
  std::vector<bool> done(static_cast<std::size_t>(batch), false);

  // Only the first beam of each prompt starts live, so the first step does not pick duplicates.
  at::Tensor beam_scores = at::zeros({batch, num_beams}, at::kFloat);
  beam_scores.narrow(1, 1, num_beams - 1).fill_(-1e9);
  beam_scores = beam_scores.view({-1});
  at::Tensor sequences = input_ids;
  const std::int64_t n_keep = std::max<std::int64_t>(2, 1 + static_cast<std::int64_t>(eos.size())) * num_beams;
  auto is_eos = [&](std::int64_t token) { return std::find(eos.begin(), eos.end(), token) != eos.end(); };

  GenerateOutput result;
  at::Tensor logits = decoder.prefill(sequences);
  while (true) {
    if (options.output_logits) result.logits.push_back(logits.clone());
    at::Tensor scores = at::log_softmax(logits, -1);
    if (!processors.empty()) scores = processors(sequences, scores);
    if (options.output_scores) result.scores.push_back(scores);
    const std::int64_t vocab = scores.size(-1);
    at::Tensor candidates = scores.add(beam_scores.to(scores.device()).unsqueeze(1)).view({batch, num_beams * vocab});
    at::Tensor top_scores, top_tokens;
    if (config.do_sample()) {
      top_tokens = at::multinomial(at::softmax(candidates, -1), n_keep, /*replacement=*/false, generator);
      top_scores = candidates.gather(-1, top_tokens);
      auto [sorted, order] = at::sort(top_scores, /*dim=*/1, /*descending=*/true);
      top_scores = sorted;
      top_tokens = top_tokens.gather(-1, order);
    } else {
      std::tie(top_scores, top_tokens) = at::topk(candidates, n_keep, 1, /*largest=*/true, /*sorted=*/true);
    }
    top_scores = top_scores.to(at::kCPU).contiguous();
    top_tokens = top_tokens.to(at::kCPU).contiguous();
    const auto score_of = top_scores.accessor<float, 2>();
    const auto candidate_of = top_tokens.accessor<std::int64_t, 2>();

    const std::int64_t cur_len = sequences.size(1) + 1;  // the length the candidates complete
    at::Tensor next_scores = at::zeros({batch, num_beams}, at::kFloat);
    at::Tensor next_tokens = at::zeros({batch, num_beams}, at::kLong);
    at::Tensor next_beams = at::zeros({batch, num_beams}, at::kLong);
    for (std::int64_t b = 0; b < batch; ++b) {
      if (done[b]) {  // finished prompts keep padding
        if (!pad) throw ValueError("beam search needs pad_token_id to pad finished sequences");
        next_tokens[b].fill_(*pad);
        continue;
      }
      std::int64_t filled = 0;
      for (std::int64_t rank = 0; rank < n_keep && filled < num_beams; ++rank) {
        const std::int64_t token = candidate_of[b][rank] % vocab;
        const std::int64_t row = b * num_beams + candidate_of[b][rank] / vocab;
        const double score = score_of[b][rank];
        if (!eos.empty() && is_eos(token)) {
          // Only an EOS among the top num_beams candidates finishes a hypothesis.
          if (rank >= num_beams) continue;
          hypotheses[b].add(sequences[row].to(at::kCPU).clone(), score, cur_len - prompt);
        } else {
          next_scores[b][filled] = score;
          next_tokens[b][filled] = token;
          next_beams[b][filled] = row;
          ++filled;
        }
      }
      if (filled < num_beams)
        throw Error("beam search: fewer than num_beams non-EOS candidates for prompt " + std::to_string(b));
      done[b] = done[b] || hypotheses[b].is_done(score_of[b][0], cur_len, prompt);
    }
    beam_scores = next_scores.view({-1});
    const at::Tensor beam_idx = next_beams.view({-1}).to(sequences.device());
    sequences = at::cat({sequences.index_select(0, beam_idx), next_tokens.view({-1, 1}).to(sequences.device())}, 1);
    decoder.reorder(beam_idx);
    const bool all_done = std::all_of(done.begin(), done.end(), [](bool d) { return d; });
    if (all_done || sequences.size(1) >= max_length) break;
    logits = decoder.step(sequences);
  }

  // Running beams of unfinished prompts compete with the finished hypotheses.
  for (std::int64_t b = 0; b < batch; ++b) {
    if (done[b]) continue;
    for (std::int64_t j = 0; j < num_beams; ++j) {
      const std::int64_t row = b * num_beams + j;
      hypotheses[b].add(sequences[row].to(at::kCPU).clone(), beam_scores[row].item<float>(), sequences.size(1) - prompt);
    }
  }
  std::vector<Hypothesis> best;
  for (std::int64_t b = 0; b < batch; ++b) {
    std::vector<Hypothesis> sorted = hypotheses[b].beams();
    std::stable_sort(sorted.begin(), sorted.end(), [](const Hypothesis& x, const Hypothesis& y) { return x.score < y.score; });
    for (std::int64_t j = 0; j < keep_returned; ++j) {
      best.push_back(sorted.back());
      sorted.pop_back();
    }
  }
  std::int64_t longest = 0, shortest = max_length;
  for (const auto& h : best) {
    longest = std::max(longest, h.tokens.size(0));
    shortest = std::min(shortest, h.tokens.size(0));
  }
  const std::int64_t width = std::min(longest + 1, max_length);
  if (shortest != longest && !pad) throw ValueError("beam search needs pad_token_id to pad sequences of different lengths");
  at::Tensor decoded = at::full({static_cast<std::int64_t>(best.size()), width}, pad.value_or(0), at::kLong);
  at::Tensor sequence_scores = at::zeros({static_cast<std::int64_t>(best.size())}, at::kFloat);
  for (std::size_t i = 0; i < best.size(); ++i) {
    const std::int64_t length = best[i].tokens.size(0);
    decoded[i].narrow(0, 0, length).copy_(best[i].tokens);
    if (length < width) decoded[i][length] = eos.empty() ? pad.value_or(0) : eos[0];
    sequence_scores[i] = best[i].score;
  }
  result.sequences = decoded.to(input_ids.device());
  result.sequences_scores = sequence_scores;
  result.past_key_values = decoder.cache();
  return result;
}

}  // namespace hfcpp::detail
