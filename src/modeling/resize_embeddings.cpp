// resize_token_embeddings: Transformers' _get_resized_embeddings / _get_resized_lm_head. The
// resized tensors replace the old ones' data in place (Python's `weight.data = ...`), so modules,
// ties and requires_grad survive. Fresh matrices consume the random stream as Python's freshly
// built torch.nn.Embedding / Linear do, so with a seed the new rows equal Python's bit for bit.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <functional>

#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/modeling/assign.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {
namespace {

constexpr std::string_view kMeanResizingWarning =
    "The new embeddings will be initialized from a multivariate normal distribution that has old embeddings' mean "
    "and covariance. As described in this article: https://nlp.stanford.edu/~johnhew/vocab-expansion.html. To "
    "disable this, use `mean_resizing=False`";

// `added` rows drawn from N(mean, 1e-9 * covariance) of the rows of `old` [tokens, dim], or the
// mean itself when that covariance is not positive definite. Transformers 4.46 means to do this
// but never samples: it tests positive definiteness on torch.linalg.eigvals, whose result is
// always complex, so its test always fails and its new rows are exactly the mean. A Cholesky
// factorisation is the test it meant.
at::Tensor rows_from_old_distribution(const at::Tensor& old, std::int64_t added) {
  const at::Tensor rows = old.to(at::kFloat);
  const at::Tensor mean = rows.mean(0);
  const at::Tensor centered = rows - mean;
  const at::Tensor covariance = centered.t().matmul(centered) / static_cast<double>(rows.size(0));
  const auto [scale_tril, info] = at::linalg_cholesky_ex(covariance * 1e-9);
  if (info.item<std::int64_t>() == 0 && scale_tril.isfinite().all().item<bool>()) {
    const at::Tensor eps = at::randn({added, rows.size(1)}, rows.options());
    return (mean + eps.matmul(scale_tril.t())).to(old.scalar_type());
  }
  return mean.unsqueeze(0).repeat({added, 1}).to(old.scalar_type());
}

// Python's _init_added_lm_head_bias_with_mean: N(mean, 1e-9 * std) of the old bias (this one
// does sample in Python).
void fill_bias_from_old(const at::Tensor& new_part, const at::Tensor& old_bias) {
  const double mean = old_bias.to(at::kFloat).mean().item<double>();
  double std = old_bias.numel() > 1 ? old_bias.std().to(at::kFloat).item<double>() : 0.0;
  if (!std::isfinite(std)) std = 0.0;
  new_part.normal_(mean, 1e-9 * std);
}

struct Resizer {
  PreTrainedModel& model;
  bool mean_resizing;
  bool warned = false;

  // One warning per call (Python's warning_once would say it once per process).
  bool use_mean(std::int64_t old_tokens) {
    if (!mean_resizing || old_tokens == 0) return false;  // no rows to take a mean of: the model's init
    if (!warned) logging::warning(kMeanResizingWarning);
    warned = true;
    return true;
  }

  static void check_real(const at::Tensor& weight, const char* what) {
    if (weight.is_meta())
      throw ValueError(std::string("cannot resize ") + what + ": its weight is on the meta device (not loaded)");
  }

  // Python: new_embeddings = nn.Embedding(new, dim); init; copy; old.weight.data = new.weight.data.
  void embedding(nn::Embedding& old, std::int64_t new_tokens) {
    const at::Tensor& weight = old.weight();
    check_real(weight, "the embeddings");
    const std::int64_t old_tokens = weight.size(0), dim = weight.size(1);
    if (old_tokens != new_tokens) {
      c10::NoGradGuard no_grad;
      nn::ParameterScope scope({weight.device(), weight.scalar_type(), /*initialize=*/true});
      nn::Embedding fresh(new_tokens, dim);
      fresh.weight().normal_();  // torch.nn.Embedding's constructor
      if (new_tokens > old_tokens) {
        const std::int64_t added = new_tokens - old_tokens;
        if (use_mean(old_tokens)) fresh.weight().narrow(0, old_tokens, added).copy_(rows_from_old_distribution(weight, added));
        else model.init_module_weights(fresh);
      }
      const std::int64_t kept = std::min(old_tokens, new_tokens);
      fresh.weight().narrow(0, 0, kept).copy_(weight.narrow(0, 0, kept));
      assign_in_place(weight, fresh.weight());
    }
    // A padding row beyond the new vocabulary no longer exists.
    if (old.padding_idx && *old.padding_idx > new_tokens - 1) old.padding_idx.reset();
  }

  // Python's _get_resized_lm_head for a Linear head, weight [vocab, dim].
  void linear_head(nn::Linear& old, std::int64_t new_tokens) {
    const at::Tensor& weight = old.weight();
    check_real(weight, "the LM head");
    const std::int64_t old_tokens = weight.size(0), dim = weight.size(1);
    if (old_tokens == new_tokens) return;
    c10::NoGradGuard no_grad;
    nn::ParameterScope scope({weight.device(), weight.scalar_type(), /*initialize=*/true});
    const at::Tensor* old_bias = old.bias();
    nn::Linear fresh(dim, new_tokens, old_bias != nullptr);
    // torch.nn.Linear's constructor: kaiming_uniform(a = sqrt(5)) gives U(+-1/sqrt(fan_in)), bias alike.
    const double bound = dim > 0 ? 1.0 / std::sqrt(static_cast<double>(dim)) : 0.0;
    if (dim > 0) fresh.weight().uniform_(-bound, bound);
    if (fresh.bias() != nullptr && dim > 0) fresh.bias()->uniform_(-bound, bound);
    if (new_tokens > old_tokens) {
      const std::int64_t added = new_tokens - old_tokens;
      if (use_mean(old_tokens)) {
        fresh.weight().narrow(0, old_tokens, added).copy_(rows_from_old_distribution(weight, added));
        if (old_bias != nullptr) fill_bias_from_old(fresh.bias()->narrow(0, old_tokens, added), *old_bias);
      } else {
        model.init_module_weights(fresh);
      }
    }
    const std::int64_t kept = std::min(old_tokens, new_tokens);
    fresh.weight().narrow(0, 0, kept).copy_(weight.narrow(0, 0, kept));
    assign_in_place(weight, fresh.weight());
    if (old_bias != nullptr) {
      fresh.bias()->narrow(0, 0, kept).copy_(old_bias->narrow(0, 0, kept));
      assign_in_place(*old_bias, *fresh.bias());
    }
  }

  // A Conv1D head: the transposed layout, weight [dim, vocab]. Python refuses it (not an
  // nn.Linear); resizing it is the same operation on columns.
  void conv1d_head(nn::Conv1D& old, std::int64_t new_tokens) {
    const at::Tensor& weight = old.weight();
    check_real(weight, "the LM head");
    const std::int64_t dim = weight.size(0), old_tokens = weight.size(1);
    if (old_tokens == new_tokens) return;
    c10::NoGradGuard no_grad;
    nn::ParameterScope scope({weight.device(), weight.scalar_type(), /*initialize=*/true});
    nn::Conv1D fresh(new_tokens, dim);
    fresh.weight().normal_(0.0, 0.02);  // Conv1D's constructor
    fresh.bias()->zero_();
    if (new_tokens > old_tokens) {
      const std::int64_t added = new_tokens - old_tokens;
      if (use_mean(old_tokens)) {
        fresh.weight().narrow(1, old_tokens, added).copy_(rows_from_old_distribution(weight.t(), added).t());
        fill_bias_from_old(fresh.bias()->narrow(0, old_tokens, added), *old.bias());
      } else {
        model.init_module_weights(fresh);
      }
    }
    const std::int64_t kept = std::min(old_tokens, new_tokens);
    fresh.weight().narrow(1, 0, kept).copy_(weight.narrow(1, 0, kept));
    fresh.bias()->narrow(0, 0, kept).copy_(old.bias()->narrow(0, 0, kept));
    assign_in_place(weight, fresh.weight());
    assign_in_place(*old.bias(), *fresh.bias());
  }
};

}  // namespace

nn::Embedding* PreTrainedModel::resize_token_embeddings(std::optional<std::int64_t> new_num_tokens,
                                                        std::optional<std::int64_t> pad_to_multiple_of,
                                                        bool mean_resizing) {
  nn::Embedding* input = get_input_embeddings();
  if (!new_num_tokens && !pad_to_multiple_of) return input;
  if (new_num_tokens && *new_num_tokens < 0)
    throw ValueError("resize_token_embeddings: new_num_tokens must be >= 0, got " + std::to_string(*new_num_tokens));
  if (pad_to_multiple_of && *pad_to_multiple_of <= 0)
    throw ValueError("resize_token_embeddings: pad_to_multiple_of must be a positive integer, got " +
                     std::to_string(*pad_to_multiple_of));
  std::int64_t tokens = new_num_tokens.value_or(input->num_embeddings());
  if (pad_to_multiple_of) {
    tokens = (tokens + *pad_to_multiple_of - 1) / *pad_to_multiple_of * *pad_to_multiple_of;
  } else {
    logging::info("Resizing the embeddings to " + std::to_string(tokens) +
                  " rows without pad_to_multiple_of: a multiple of 64 or 128 is faster on tensor-core GPUs.");
  }

  Resizer resizer{*this, mean_resizing};
  resizer.embedding(*input, tokens);
  // A tied head is the embedding matrix itself; only an untied one is resized separately.
  if (!config().tie_word_embeddings())
    if (nn::Module* head = get_output_embeddings()) {
      if (auto* linear = dynamic_cast<nn::Linear*>(head)) resizer.linear_head(*linear, tokens);
      else if (auto* conv = dynamic_cast<nn::Conv1D*>(head)) resizer.conv1d_head(*conv, tokens);
      else if (auto* embedding = dynamic_cast<nn::Embedding*>(head)) resizer.embedding(*embedding, tokens);
      else throw UnsupportedError(class_info().name + ": cannot resize an output embedding of type " + head->name());
    }
  config().set("vocab_size", tokens);
  tie_weights();
  return get_input_embeddings();
}

}  // namespace hfcpp
