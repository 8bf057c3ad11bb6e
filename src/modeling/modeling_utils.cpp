#include "hfcpp/modeling/modeling_utils.h"

#include <ATen/ATen.h>

#include <limits>
#include <unordered_set>

#include "hfcpp/error.h"
#include "hfcpp/logging.h"
#include "hfcpp/modeling/assign.h"

namespace hfcpp {

PreTrainedModel::PreTrainedModel(std::shared_ptr<PretrainedConfig> config, const ModelClassInfo& info)
    : nn::Module(info.name), config_(std::move(config)), info_(&info) {
  if (!config_) throw ValueError(info.name + " needs a config");
  if (info.can_generate) generation_config = GenerationConfig::from_model_config(*config_);
}

PreTrainedModel& PreTrainedModel::base_model() {
  if (!info_->base_model_prefix.empty())
    for (const auto& child : named_children())
      if (child.key() == info_->base_model_prefix)
        if (auto* base = dynamic_cast<PreTrainedModel*>(child.value().get())) return *base;
  return *this;
}

nn::Embedding* PreTrainedModel::get_input_embeddings() {
  PreTrainedModel& base = base_model();
  if (&base != this) return base.get_input_embeddings();
  throw UnsupportedError(info_->name + " does not define its input embeddings");
}

void PreTrainedModel::set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) {
  PreTrainedModel& base = base_model();
  if (&base != this) return base.set_input_embeddings(std::move(embeddings));
  throw UnsupportedError(info_->name + " does not define its input embeddings");
}

void PreTrainedModel::tie_weights() {
  if (config_->tie_word_embeddings()) {
    if (nn::Module* output = get_output_embeddings()) {
      nn::Embedding* input = get_input_embeddings();
      output->set_param("weight", input->weight());
      // A bias of the old vocabulary size is zero-padded (or cut) to the new one.
      if (const at::Tensor* bias = output->find_param("bias")) {
        const std::int64_t rows = input->weight().size(0);
        if (!bias->is_meta() && bias->size(0) != rows) {
          at::Tensor resized = at::constant_pad_nd(bias->detach(), {0, rows - bias->size(0)}, 0);
          assign_in_place(*bias, resized);
        }
      }
    }
  }
  for (const auto& [name, module] : nn::named_modules(*this))
    if (auto* model = dynamic_cast<PreTrainedModel*>(module)) model->tie_weights_hook();
}

void PreTrainedModel::init_weights() {
  // As in Python, before the early return: a skeleton built for loading gets the checkpoint's shapes.
  if (const auto pruned = config_->pruned_heads(); !pruned.empty()) prune_heads(pruned);
  if (!nn::ParameterScope::current().initialize) return;
  nn::apply_post_order(*this, [&](const std::string&, torch::nn::Module& module) {
    auto* ours = dynamic_cast<nn::Module*>(&module);
    if (ours != nullptr && ours->hf_initialized()) return;
    if (ours != nullptr) ours->materialize();
    init_module_weights(module);
    if (ours != nullptr) ours->set_hf_initialized(true);
  });
  tie_weights();
}

c10::ScalarType PreTrainedModel::dtype() const {
  // Transformers: the first floating-point parameter's dtype, else the last parameter's.
  std::optional<c10::ScalarType> last;
  for (const auto& p : parameters()) {
    if (at::isFloatingType(p.scalar_type())) return p.scalar_type();
    last = p.scalar_type();
  }
  for (const auto& b : buffers())
    if (at::isFloatingType(b.scalar_type())) return b.scalar_type();
  return last.value_or(c10::ScalarType::Float);
}

c10::Device PreTrainedModel::device() const {
  for (const auto& p : parameters()) return p.device();
  return c10::Device(c10::DeviceType::CPU);
}

std::int64_t PreTrainedModel::num_parameters(bool only_trainable, bool exclude_embeddings) const {
  auto& self = const_cast<PreTrainedModel&>(*this);
  std::unordered_set<const void*> embedding_weights;
  if (exclude_embeddings)
    for (const auto& [name, module] : nn::named_modules(self))
      if (auto* embedding = dynamic_cast<nn::Embedding*>(module))
        embedding_weights.insert(embedding->weight().unsafeGetTensorImpl());
  // Python's named_parameters() lists a tied parameter once, under its first name.
  std::unordered_set<const void*> seen;
  std::int64_t total = 0;
  for (const auto& item : named_parameters()) {
    const void* impl = item.value().unsafeGetTensorImpl();
    if (!seen.insert(impl).second || embedding_weights.count(impl)) continue;
    if (only_trainable && !item.value().requires_grad()) continue;
    // A packed 4-bit weight holds two parameters per byte of its storage dtype (Transformers' rule).
    const bool packed = is_loaded_in_4bit && item.value().scalar_type() == c10::ScalarType::Byte;
    total += packed ? item.value().numel() * 2 * item.value().element_size() : item.value().numel();
  }
  return total;
}

StateDict PreTrainedModel::state_dict() const {
  StateDict out;
  for (auto& [name, tensor] : nn::state_dict_items(*this)) out.insert(name, tensor);
  return out;
}

bool PreTrainedModel::want_attentions(const ModelInputs& inputs) const {
  return inputs.output_attentions.value_or(config_->output_attentions());
}

bool PreTrainedModel::want_hidden_states(const ModelInputs& inputs) const {
  return inputs.output_hidden_states.value_or(config_->output_hidden_states());
}

void PreTrainedModel::warn_if_padding_and_no_attention_mask(const at::Tensor& input_ids,
                                                            const at::Tensor& attention_mask) const {
  const auto pad = config_->pad_token_id();
  if (attention_mask.defined() || !pad || input_ids.dim() < 2 || input_ids.size(-1) == 0) return;
  const at::Tensor edges = at::stack({input_ids.select(-1, -1), input_ids.select(-1, 0)});
  if (!(edges == *pad).any().item<bool>()) return;
  std::string message =
      "input_ids contain the pad token id " + std::to_string(*pad) +
      " at their start or end but no attention_mask was given: pass one, or padded positions are attended to.";
  const auto bos = config_->bos_token_id();
  const auto eos = config_->eos_token_ids();
  const auto sep = config_->has("sep_token_id") && !config_->at("sep_token_id").is_null()
                       ? std::optional(config_->get<std::int64_t>("sep_token_id"))
                       : std::nullopt;
  if (bos == pad || sep == pad || std::find(eos.begin(), eos.end(), *pad) != eos.end())
    message += " (The pad id equals the bos/eos/sep id, so this may be a false alarm if your input is not padded.)";
  logging::warning_once(message);
}

namespace {

double finfo_min(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float: return std::numeric_limits<float>::lowest();
    case c10::ScalarType::Double: return std::numeric_limits<double>::lowest();
    case c10::ScalarType::Half: return -65504.0;
    case c10::ScalarType::BFloat16: return -3.3895313892515355e38;
    default: throw ValueError(std::string("attention masks need a floating dtype, got ") + c10::toString(dtype));
  }
}

}  // namespace

at::Tensor PreTrainedModel::get_extended_attention_mask(const at::Tensor& attention_mask, at::IntArrayRef input_shape,
                                                        std::optional<c10::ScalarType> dtype) const {
  const c10::ScalarType type = dtype.value_or(this->dtype());
  at::Tensor extended;
  if (attention_mask.dim() == 3) {
    extended = attention_mask.unsqueeze(1);
  } else if (attention_mask.dim() == 2) {
    if (config_->is_decoder()) {
      const std::int64_t batch = input_shape[0], seq = input_shape[1];
      const at::Tensor ids = at::arange(seq, at::TensorOptions().device(attention_mask.device()));
      at::Tensor causal = ids.view({1, 1, seq}).repeat({batch, seq, 1}) <= ids.view({1, seq, 1});
      causal = causal.to(attention_mask.scalar_type());
      if (causal.size(1) < attention_mask.size(1)) {
        // Cached tokens before the input: every query may attend to all of them.
        const std::int64_t prefix = attention_mask.size(1) - causal.size(1);
        causal = at::cat({at::ones({batch, seq, prefix}, causal.options()), causal}, -1);
      }
      extended = causal.unsqueeze(1) * attention_mask.unsqueeze(1).unsqueeze(1);
    } else {
      extended = attention_mask.unsqueeze(1).unsqueeze(1);
    }
  } else {
    throw ValueError("wrong shape for attention_mask " + c10::str(attention_mask.sizes()) +
                     ": expected [batch, seq] or [batch, from_seq, to_seq] (input shape " +
                     c10::str(input_shape) + ")");
  }
  extended = extended.to(type);
  // (1 - mask) * min: kept positions become -0.0, exactly as in Python.
  return (1.0 - extended) * finfo_min(type);
}

at::Tensor PreTrainedModel::invert_attention_mask(const at::Tensor& encoder_attention_mask) const {
  at::Tensor extended;
  if (encoder_attention_mask.dim() == 3) extended = encoder_attention_mask.unsqueeze(1);
  else if (encoder_attention_mask.dim() == 2) extended = encoder_attention_mask.unsqueeze(1).unsqueeze(1);
  else throw ValueError("wrong shape for encoder_attention_mask " + c10::str(encoder_attention_mask.sizes()));
  const c10::ScalarType type = dtype();
  extended = extended.to(type);
  return (1.0 - extended) * finfo_min(type);
}

std::vector<at::Tensor> PreTrainedModel::get_head_mask(const at::Tensor& head_mask, std::int64_t num_hidden_layers,
                                                       bool is_attention_chunked) const {
  if (!head_mask.defined()) return std::vector<at::Tensor>(static_cast<std::size_t>(num_hidden_layers));
  at::Tensor mask = head_mask;
  if (mask.dim() == 1) {
    mask = mask.view({1, 1, -1, 1, 1}).expand({num_hidden_layers, -1, -1, -1, -1});
  } else if (mask.dim() == 2) {
    mask = mask.unsqueeze(1).unsqueeze(-1).unsqueeze(-1);
  } else {
    throw ValueError("head_mask must be [num_heads] or [num_layers, num_heads], got " + c10::str(head_mask.sizes()));
  }
  mask = mask.to(dtype());
  if (is_attention_chunked) mask = mask.unsqueeze(-1);
  std::vector<at::Tensor> per_layer;
  for (std::int64_t i = 0; i < mask.size(0); ++i) per_layer.push_back(mask[i]);
  return per_layer;
}

}  // namespace hfcpp
