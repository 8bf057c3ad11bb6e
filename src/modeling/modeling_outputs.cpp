#include "hfcpp/modeling/modeling_outputs.h"

#include "hfcpp/error.h"

namespace hfcpp {

ModelInputs ModelInputs::for_base_model() const {
  ModelInputs base = *this;
  base.labels = at::Tensor();
  base.next_sentence_label = at::Tensor();
  base.start_positions = at::Tensor();
  base.end_positions = at::Tensor();
  base.mc_token_ids = at::Tensor();
  base.mc_labels = at::Tensor();
  base.num_logits_to_keep = 0;
  return base;
}

void ModelOutput::copy_base_extras(const ModelOutput& base) {
  past_key_values = base.past_key_values;
  if (const Field* states = base.find("hidden_states")) set_tuple("hidden_states", states->tuple);
  if (const Field* weights = base.find("attentions")) set_tuple("attentions", weights->tuple);
}

void ModelOutput::set(std::string name, at::Tensor value) {
  for (auto& field : fields_)
    if (field.name == name) {
      field = {std::move(name), std::move(value), {}, false};
      return;
    }
  fields_.push_back({std::move(name), std::move(value), {}, false});
}

void ModelOutput::set_tuple(std::string name, std::vector<at::Tensor> values) {
  for (auto& field : fields_)
    if (field.name == name) {
      field = {std::move(name), {}, std::move(values), true};
      return;
    }
  fields_.push_back({std::move(name), {}, std::move(values), true});
}

const ModelOutput::Field* ModelOutput::find(std::string_view name) const {
  for (const auto& field : fields_)
    if (field.name == name) return &field;
  return nullptr;
}

bool ModelOutput::has(std::string_view name) const { return find(name) != nullptr; }

const at::Tensor& ModelOutput::get(std::string_view name) const {
  const Field* field = find(name);
  if (field == nullptr || field->is_tuple) {
    std::string known;
    for (const auto& f : fields_) known += (known.empty() ? "" : ", ") + f.name;
    throw KeyError("the model output has no tensor field '" + std::string(name) + "' (fields: " + known + ")");
  }
  return field->tensor;
}

const std::vector<at::Tensor>& ModelOutput::tuple(std::string_view name) const {
  const Field* field = find(name);
  if (field == nullptr || !field->is_tuple)
    throw KeyError("the model output has no tuple field '" + std::string(name) +
                   "' (ask for it with output_hidden_states / output_attentions)");
  return field->tuple;
}

std::vector<std::string> ModelOutput::names() const {
  std::vector<std::string> out;
  for (const auto& field : fields_) out.push_back(field.name);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> ModelOutput::flatten() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& field : fields_) {
    if (!field.is_tuple) {
      out.emplace_back(field.name, field.tensor);
      continue;
    }
    for (std::size_t i = 0; i < field.tuple.size(); ++i)
      out.emplace_back(field.name + "." + std::to_string(i), field.tuple[i]);
  }
  return out;
}

}  // namespace hfcpp
