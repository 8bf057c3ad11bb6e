#include "hfcpp/modeling/sequence_summary.h"

#include <ATen/ATen.h>

#include "hfcpp/error.h"
#include "hfcpp/logging.h"

namespace hfcpp {

SequenceSummary::SequenceSummary(const PretrainedConfig& config)
    : nn::Module("SequenceSummary"), summary_type(config.get_or<std::string>("summary_type", "last")) {
  if (summary_type == "attn")
    throw UnsupportedError("SequenceSummary with summary_type \"attn\" is not implemented (nor is it in Transformers)");
  if (summary_type != "last" && summary_type != "first" && summary_type != "mean" && summary_type != "cls_index")
    throw ValueError("unknown summary_type \"" + summary_type + "\": expected last, first, mean or cls_index");
  if (config.get_or<bool>("summary_use_proj", false)) {
    const bool to_labels = config.get_or<bool>("summary_proj_to_labels", false) && config.num_labels() > 0;
    const std::int64_t classes = to_labels ? config.num_labels() : config.hidden_size();
    summary = register_module("summary", std::make_shared<nn::Linear>(config.hidden_size(), classes));
  }
  const std::string activation_name = config.get_or<std::string>("summary_activation", "");
  if (!activation_name.empty()) activation = nn::activation(activation_name);
  if (const double p = config.get_or<double>("summary_first_dropout", 0.0); p > 0)
    first_dropout = register_module("first_dropout", std::make_shared<nn::Dropout>(p));
  if (const double p = config.get_or<double>("summary_last_dropout", 0.0); p > 0)
    last_dropout = register_module("last_dropout", std::make_shared<nn::Dropout>(p));
}

at::Tensor SequenceSummary::forward(const at::Tensor& hidden_states, const at::Tensor& cls_index) const {
  at::Tensor output;
  if (summary_type == "last") {
    output = hidden_states.select(1, -1);
  } else if (summary_type == "first") {
    output = hidden_states.select(1, 0);
  } else if (summary_type == "mean") {
    output = hidden_states.mean(1);
  } else {  // cls_index: gather the indexed token along the sequence dimension
    at::Tensor index;
    if (!cls_index.defined()) {
      index = at::full_like(hidden_states.narrow(-2, 0, 1), hidden_states.size(-2) - 1, at::kLong);
    } else {
      index = cls_index.unsqueeze(-1).unsqueeze(-1);
      std::vector<std::int64_t> shape(static_cast<std::size_t>(index.dim()), -1);
      shape.back() = hidden_states.size(-1);
      index = index.expand(shape);
    }
    output = hidden_states.gather(-2, index.to(hidden_states.device())).squeeze(-2);
  }
  if (first_dropout) output = first_dropout->forward(output);
  if (summary) output = summary->forward(output);
  if (activation) output = activation(output);
  if (last_dropout) output = last_dropout->forward(output);
  return output;
}

at::Tensor pool_before_first_pad(const at::Tensor& logits, const at::Tensor& input_ids,
                                 std::optional<std::int64_t> pad_token_id, const std::string& model_class) {
  const std::int64_t batch = logits.size(0), seq = logits.size(1);
  if (!pad_token_id && batch != 1)
    throw ValueError(model_class + " cannot handle batches of " + std::to_string(batch) +
                     " sequences without config.pad_token_id: it finds each sequence's end by its first pad token");
  at::Tensor index;
  if (pad_token_id && input_ids.defined()) {
    // The token before the first pad; modulo turns "no pad" (argmax 0, minus 1) into the last one.
    index = input_ids.eq(*pad_token_id).to(at::kInt).argmax(-1).sub(1).remainder(seq).to(at::kLong);
  } else {
    if (pad_token_id)
      logging::warning_once(model_class + " will not detect padding tokens in `inputs_embeds`. Results may be "
                            "unexpected if using padding tokens in conjunction with `inputs_embeds.`");
    index = at::full({batch}, seq - 1, at::TensorOptions().dtype(at::kLong));
  }
  index = index.to(logits.device()).view({batch, 1, 1}).expand({batch, 1, logits.size(-1)});
  return logits.gather(1, index).squeeze(1);
}

}  // namespace hfcpp
