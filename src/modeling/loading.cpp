// from_pretrained: config -> skeleton on the meta device -> key matching -> initialise what the
// checkpoint lacks -> materialise every tensor from the checkpoint -> tie, eval.
#include <ATen/ATen.h>

#include <algorithm>
#include <regex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "../io/mapped_tensor.h"
#include "hfcpp/cpu_memory.h"
#include "hfcpp/runtime.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/logging.h"
#include "hfcpp/modeling/assign.h"
#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/modeling/weights_files.h"

namespace hfcpp {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) { return c10::str(c10::IntArrayRef(shape)); }

std::string list_text(const std::vector<std::string>& keys) {
  std::string out = "[";
  for (std::size_t i = 0; i < keys.size(); ++i) out += (i ? ", '" : "'") + keys[i] + "'";
  return out + "]";
}

// Checkpoint keys in the order Transformers sees them: file by file, a safetensors file's keys
// sorted by name (safe_open.keys()), a .bin file's in pickle order.
std::vector<std::string> checkpoint_key_order(const TensorSource& source) {
  std::vector<std::string> keys;
  std::size_t begin = 0;
  const auto& metas = source.tensors();
  while (begin < metas.size()) {
    std::size_t end = begin;
    while (end < metas.size() && metas[end].file == metas[begin].file) ++end;
    std::vector<std::string> file_keys;
    for (std::size_t i = begin; i < end; ++i) file_keys.push_back(metas[i].key);
    if (source.format() == CheckpointFormat::kSafetensors && metas[begin].file.extension() == ".safetensors")
      std::sort(file_keys.begin(), file_keys.end());
    keys.insert(keys.end(), file_keys.begin(), file_keys.end());
    begin = end;
  }
  return keys;
}

c10::ScalarType resolve_dtype(const FromPretrainedOptions& options, const PretrainedConfig& config,
                              const TensorSource& source, const std::vector<std::string>& key_order) {
  if (!options.torch_dtype) return c10::ScalarType::Float;
  if (*options.torch_dtype != "auto") return parse_torch_dtype(*options.torch_dtype);
  if (auto configured = config.torch_dtype()) return *configured;
  for (const auto& key : key_order) {
    const TensorMeta* meta = source.find(key);
    if (is_floating_point(meta->dtype))
      return to_scalar_type_or_throw(meta->dtype, "tensor '" + key + "' in " + source.origin().string());
  }
  return c10::ScalarType::Float;
}

// How checkpoint keys relate to model keys: a base model loaded from a checkpoint with a head
// (keys prefixed with base_model_prefix) or a head model loaded from a base checkpoint.
struct KeyMapping {
  std::string prefix;
  bool remove_prefix_from_model = false;  // checkpoint lacks the prefix the model's keys have
  bool add_prefix_to_model = false;       // checkpoint has a prefix the model's keys lack

  std::string model_to_checkpoint(const std::string& key) const {
    const std::string dotted = prefix + ".";
    if (remove_prefix_from_model) return key.rfind(dotted, 0) == 0 ? key.substr(dotted.size()) : key;
    if (add_prefix_to_model) return dotted + key;
    return key;
  }
  // The model key a checkpoint key is loaded into, or "" when it cannot belong to the model.
  std::string checkpoint_to_model(const std::string& key) const {
    const std::string dotted = prefix + ".";
    if (remove_prefix_from_model) return dotted + key;
    if (add_prefix_to_model) return key.rfind(dotted, 0) == 0 ? key.substr(dotted.size()) : "";
    return key;
  }
};

KeyMapping plan_prefix(const std::string& prefix, const std::vector<std::string>& loaded,
                       const std::vector<std::string>& expected) {
  KeyMapping mapping;
  mapping.prefix = prefix;
  if (prefix.empty()) return mapping;
  auto any_starts = [&](const std::vector<std::string>& keys) {
    return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return k.rfind(prefix, 0) == 0; });
  };
  const bool has_prefix_module = any_starts(loaded);
  const bool expects_prefix_module = any_starts(expected);
  mapping.remove_prefix_from_model = !has_prefix_module && expects_prefix_module;
  mapping.add_prefix_to_model = has_prefix_module && !expects_prefix_module;
  return mapping;
}

bool matches_any(const std::string& key, const std::vector<std::string>& patterns) {
  for (const auto& pattern : patterns)
    if (std::regex_search(key, std::regex(pattern))) return true;
  return false;
}

// Groups of model keys that are one parameter (accelerate's find_tied_parameters).
std::vector<std::vector<std::string>> tied_parameter_groups(PreTrainedModel& model) {
  std::unordered_map<const void*, std::vector<std::string>> by_impl;
  std::vector<const void*> order;
  for (const auto& item : model.named_parameters()) {
    const void* impl = item.value().unsafeGetTensorImpl();
    auto [it, inserted] = by_impl.try_emplace(impl);
    if (inserted) order.push_back(impl);
    it->second.push_back(item.key());
  }
  std::vector<std::vector<std::string>> groups;
  for (const void* impl : order)
    if (by_impl[impl].size() > 1) groups.push_back(by_impl[impl]);
  return groups;
}

// Transformers' set_initialized_submodules: a module whose every state-dict key is loaded needs
// no initialisation.
void mark_loaded_modules(PreTrainedModel& model, const std::unordered_set<std::string>& loaded_model_keys) {
  for (const auto& [name, module] : nn::named_modules(model)) {
    auto* ours = dynamic_cast<nn::Module*>(module);
    if (ours == nullptr) continue;
    const std::string dot = name.empty() ? "" : name + ".";
    bool all_loaded = true;
    for (const auto& [key, tensor] : nn::state_dict_items(*module))
      if (!loaded_model_keys.count(dot + key)) {
        all_loaded = false;
        break;
      }
    if (all_loaded) ours->set_hf_initialized(true);
  }
}

void log_report(const PreTrainedModel& model, const std::string& origin, const LoadingInfo& info) {
  const std::string& cls = model.class_info().name;
  if (!info.unexpected_keys.empty()) {
    const auto archs = model.config().architectures();
    const bool same_class = std::find(archs.begin(), archs.end(), cls) != archs.end();
    logging::log(same_class ? logging::Level::kWarning : logging::Level::kInfo,
                 "Some weights of the checkpoint at " + origin + " were not used by " + cls + ": " +
                     list_text(info.unexpected_keys) +
                     "\n- Expected when the checkpoint was trained with another head or task (e.g. "
                     "BertForSequenceClassification from a BertForPreTraining checkpoint).\n- Not "
                     "expected when the checkpoint should match " + cls + " exactly.");
  } else {
    logging::info("All checkpoint weights were used when initializing " + cls + ".");
  }
  if (!info.missing_keys.empty()) {
    logging::warning("Some weights of " + cls + " are not in the checkpoint at " + origin +
                     " and were newly initialized: " + list_text(info.missing_keys) +
                     "\nTrain the model on a downstream task before using it for predictions.");
  } else if (info.mismatched_keys.empty()) {
    logging::info("All the weights of " + cls + " were initialized from the checkpoint at " + origin + ".");
  }
  if (!info.mismatched_keys.empty()) {
    std::string lines;
    for (const auto& [key, ckpt, mine] : info.mismatched_keys)
      lines += "\n- " + key + ": shape " + shape_text(ckpt) + " in the checkpoint, " + shape_text(mine) + " in the model";
    logging::warning("Some weights of " + cls + " were newly initialized because their shapes differ from the "
                     "checkpoint at " + origin + ":" + lines +
                     "\nTrain the model on a downstream task before using it for predictions.");
  }
}

}  // namespace

std::shared_ptr<PreTrainedModel> load_pretrained(const ModelFactory& factory, const ModelClassInfo& class_info,
                                                 const std::filesystem::path& path,
                                                 const FromPretrainedOptions& options, LoadingInfo* info_out) {
  configure_threads();  // the model's first forward runs under the policy, not libtorch's defaults
  configure_cpu_allocator();
  // --- config ---
  auto config = options.config ? std::make_shared<PretrainedConfig>(*options.config)
                               : std::make_shared<PretrainedConfig>(PretrainedConfig::from_pretrained(path, options.subfolder));
  config->update(options.config_overrides);
  if (!options.attn_implementation.empty()) config->set_attn_implementation(options.attn_implementation);
  config->set("_name_or_path", path.string());

  // --- weights ---
  std::unique_ptr<TensorSource> source;
  if (options.state_dict) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& item : *options.state_dict) tensors.emplace_back(item.key(), item.value());
    source = make_state_dict_source(std::move(tensors));
  } else {
    const auto weights = resolve_weights(path, {options.variant, options.subfolder, options.use_safetensors});
    logging::info("loading weights file " + weights.string());
    source = open_tensor_source(weights);
  }
  const std::vector<std::string> loaded_keys = checkpoint_key_order(*source);
  const c10::ScalarType dtype = resolve_dtype(options, *config, *source, loaded_keys);

  // --- skeleton: no memory, no random init ---
  std::shared_ptr<PreTrainedModel> model;
  {
    nn::ParameterScope scope({c10::Device(c10::DeviceType::Meta), dtype, /*initialize=*/false});
    model = factory(config);
  }
  model->tie_weights();

  // --- key matching (in the checkpoint's namespace, as Transformers reports it) ---
  const nn::NamedTensorList expected_items = nn::state_dict_items(*model);
  std::vector<std::string> expected;
  std::unordered_map<std::string, at::Tensor> model_tensors;
  for (const auto& [key, tensor] : expected_items) {
    expected.push_back(key);
    model_tensors.emplace(key, tensor);
  }
  const KeyMapping mapping = plan_prefix(class_info.base_model_prefix, loaded_keys, expected);
  if (mapping.remove_prefix_from_model) {
    // Loading goes into the base model only; head keys in the checkpoint mean a corrupt file.
    const std::string dotted = mapping.prefix + ".";
    std::unordered_set<std::string> head_keys;
    for (const auto& key : expected)
      if (key.rfind(dotted, 0) != 0) head_keys.insert(key);
    for (const auto& key : loaded_keys)
      if (head_keys.count(key))
        throw FormatError(source->origin().string() + ": the checkpoint has the head weight '" + key +
                          "' but its base-model weights lack the '" + dotted + "' prefix; it was not saved by "
                          "save_pretrained");
  }

  LoadingInfo info;
  std::unordered_set<std::string> expected_ckpt;
  for (const auto& key : expected) expected_ckpt.insert(mapping.model_to_checkpoint(key));
  const std::unordered_set<std::string> loaded_set(loaded_keys.begin(), loaded_keys.end());
  for (const auto& key : expected_ckpt)
    if (!loaded_set.count(key)) info.missing_keys.push_back(key);
  std::unordered_set<std::string> buffers_ckpt;
  for (const auto& item : model->named_buffers()) buffers_ckpt.insert(mapping.model_to_checkpoint(item.key()));
  for (const auto& key : loaded_keys)
    if (!expected_ckpt.count(key) && !buffers_ckpt.count(key)) info.unexpected_keys.push_back(key);
  std::sort(info.missing_keys.begin(), info.missing_keys.end());
  std::sort(info.unexpected_keys.begin(), info.unexpected_keys.end());

  // A tied group partly present in the checkpoint is complete once tied: not missing.
  const std::vector<std::vector<std::string>> tied_groups = tied_parameter_groups(*model);
  for (const auto& group : tied_groups) {
    std::set<std::string> group_ckpt;
    for (const auto& key : group) group_ckpt.insert(mapping.model_to_checkpoint(key));
    std::size_t missing_in_group = 0;
    for (const auto& key : info.missing_keys) missing_in_group += group_ckpt.count(key);
    if (missing_in_group > 0 && missing_in_group < group_ckpt.size())
      std::erase_if(info.missing_keys, [&](const std::string& k) { return group_ckpt.count(k) > 0; });
  }
  std::erase_if(info.missing_keys,
                [&](const std::string& k) { return matches_any(k, class_info.keys_to_ignore_on_load_missing); });
  std::erase_if(info.unexpected_keys,
                [&](const std::string& k) { return matches_any(k, class_info.keys_to_ignore_on_load_unexpected); });

  // Shapes: checked before anything is loaded.
  std::unordered_set<std::string> skipped;  // checkpoint keys not to load (mismatched)
  std::vector<std::string> size_errors;
  for (const auto& [model_key, tensor] : expected_items) {
    const std::string ckpt_key = mapping.model_to_checkpoint(model_key);
    const TensorMeta* meta = source->find(ckpt_key);
    if (meta == nullptr || meta->shape == tensor.sizes().vec()) continue;
    size_errors.push_back("size mismatch for " + ckpt_key + ": the checkpoint has shape " + shape_text(meta->shape) +
                          ", the model " + shape_text(tensor.sizes().vec()) + ".");
  }
  if (!size_errors.empty() && !options.ignore_mismatched_sizes) {
    std::string message = "Error(s) in loading state_dict for " + class_info.name + " from " +
                          source->origin().string() + ":";
    for (const auto& line : size_errors) message += "\n\t" + line;
    message += "\n\tIf this is intended (e.g. a new number of labels), pass ignore_mismatched_sizes = true to "
               "from_pretrained: these weights are then newly initialized.";
    throw ValueError(message);
  }
  for (const auto& key : loaded_keys) {
    const std::string model_key = mapping.checkpoint_to_model(key);
    auto it = model_tensors.find(model_key);
    if (it == model_tensors.end()) continue;
    const TensorMeta* meta = source->find(key);
    if (meta->shape != it->second.sizes().vec()) {
      info.mismatched_keys.emplace_back(key, meta->shape, it->second.sizes().vec());
      skipped.insert(key);
    }
  }

  // --- initialise what the checkpoint does not cover (Transformers' fast init) ---
  if (!options.ignore_mismatched_sizes) {
    std::unordered_set<std::string> loaded_model_keys;
    for (const auto& key : loaded_keys) {
      const std::string model_key = mapping.checkpoint_to_model(key);
      if (!model_key.empty()) loaded_model_keys.insert(model_key);
    }
    // A weight tied to a loaded one is loaded with it (BERT's MLM decoder and its bias): random
    // init of its module would be thrown away, and costs a second over a large vocabulary.
    for (const auto& group : tied_groups)
      if (std::any_of(group.begin(), group.end(), [&](const std::string& k) { return loaded_model_keys.count(k) > 0; }))
        loaded_model_keys.insert(group.begin(), group.end());
    mark_loaded_modules(*model, loaded_model_keys);
    // A tied LM head without a bias gets its weight from the input embeddings, also when those are
    // missing and initialised themselves (the tied groups above cover only loaded ones).
    if (config->tie_word_embeddings())
      if (nn::Module* output = model->get_output_embeddings(); output && output->find_param("bias") == nullptr)
        output->set_hf_initialized(true);
  }
  {
    nn::ParameterScope scope({c10::Device(c10::DeviceType::CPU), dtype, /*initialize=*/true});
    model->init_weights();
  }

  // --- materialise from the checkpoint, file by file ---
  const bool keep_fp32 = dtype == c10::ScalarType::Half && !class_info.keep_in_fp32_modules.empty();
  for (const auto& meta : source->tensors()) {
    if (skipped.count(meta.key)) continue;
    auto it = model_tensors.find(mapping.checkpoint_to_model(meta.key));
    if (it == model_tensors.end()) continue;
    const at::Tensor loaded = source->load(meta.key);
    at::Tensor value = loaded;
    if (at::isFloatingType(value.scalar_type())) {
      c10::ScalarType target = dtype;
      if (keep_fp32)
        for (const auto& module_name : class_info.keep_in_fp32_modules)
          if (it->first.find(module_name) != std::string::npos) target = c10::ScalarType::Float;
      if (value.scalar_type() != target) value = value.to(target);
      else if (!options.use_mmap) value = value.clone();
    } else if (!options.use_mmap) {
      value = value.clone();
    }
    // Copied out (cast, or use_mmap=false): the file's pages under it leave the RSS, so a copying
    // load peaks near the model's size instead of twice it. Nothing has written to them yet.
    if (!value.is_same(loaded)) detail::drop_mapped_pages(loaded);
    assign_in_place(it->second, value);
  }
  for (const auto& [key, tensor] : model_tensors)
    if (tensor.is_meta())
      throw Error("internal error: " + key + " was neither loaded nor initialized while loading " + class_info.name);

  model->tie_weights();
  model->eval();
  if (model->can_generate() && !options.state_dict) {
    if (auto generation = GenerationConfig::from_pretrained(path, options.subfolder)) {
      model->generation_config = *generation;
    } else {
      logging::info("Generation config file not found, using a generation config created from the model config.");
    }
  }
  log_report(*model, source->origin().string(), info);
  if (info_out != nullptr) *info_out = std::move(info);
  return model;
}

}  // namespace hfcpp
