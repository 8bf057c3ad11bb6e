// What models take and return. Inputs are one struct of optional tensors (fill it with designated
// initializers); outputs are an ordered set of named fields as Transformers' ModelOutput classes
// (logits, last_hidden_state, hidden_states as a tuple, ...).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfcpp {

class Cache;

struct ModelInputs {
  at::Tensor input_ids;       // [batch, seq] int64
  at::Tensor attention_mask;  // [batch, seq] (1 = attend), or a 4-D additive mask
  at::Tensor token_type_ids;
  at::Tensor position_ids;
  at::Tensor head_mask;       // [heads] or [layers, heads]
  at::Tensor inputs_embeds;   // instead of input_ids
  at::Tensor labels;
  // Decoders
  std::shared_ptr<Cache> past_key_values;
  std::optional<bool> use_cache;
  at::Tensor cache_position;
  // Causal LMs: compute logits for the last N positions only (0 = every position). generate()
  // sets 1, which spares the LM head's matmul over the prompt.
  std::int64_t num_logits_to_keep = 0;
  // Task heads
  at::Tensor next_sentence_label;
  at::Tensor start_positions;
  at::Tensor end_positions;
  at::Tensor mc_token_ids;  // GPT2DoubleHeadsModel
  at::Tensor mc_labels;
  // nullopt: the config's output_attentions / output_hidden_states decide.
  std::optional<bool> output_attentions;
  std::optional<bool> output_hidden_states;

  // These inputs for a head model's base model: the head's own inputs (labels, mc_labels,
  // mc_token_ids, next_sentence_label, start/end positions) dropped, every logit position kept.
  ModelInputs for_base_model() const;
};

class ModelOutput {
 public:
  void set(std::string name, at::Tensor value);
  void set_tuple(std::string name, std::vector<at::Tensor> values);

  bool has(std::string_view name) const;
  // A tensor field; throws KeyError listing the fields there are.
  const at::Tensor& get(std::string_view name) const;
  const std::vector<at::Tensor>& tuple(std::string_view name) const;

  const at::Tensor& logits() const { return get("logits"); }
  const at::Tensor& last_hidden_state() const { return get("last_hidden_state"); }
  const at::Tensor& loss() const { return get("loss"); }
  const std::vector<at::Tensor>& hidden_states() const { return tuple("hidden_states"); }
  const std::vector<at::Tensor>& attentions() const { return tuple("attentions"); }

  // Field names in order (tuple fields once).
  std::vector<std::string> names() const;
  // Every tensor named as the fixtures name them: "logits", "hidden_states.0", ...
  std::vector<std::pair<std::string, at::Tensor>> flatten() const;

  std::shared_ptr<Cache> past_key_values;

  // A head model's output takes its base model's cache, hidden_states and attentions.
  void copy_base_extras(const ModelOutput& base);

 private:
  struct Field {
    std::string name;
    at::Tensor tensor;
    std::vector<at::Tensor> tuple;
    bool is_tuple = false;
  };
  const Field* find(std::string_view name) const;
  std::vector<Field> fields_;
};

}  // namespace hfcpp
