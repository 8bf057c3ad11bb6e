// Auto classes: pick the model class from a checkpoint's config (model_type and task), as
// Transformers' AutoModel* do. Model families register their classes; so can users, for their own
// model types (register_model_class + register_config_type).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {

struct ModelClassRegistration {
  const ModelClassInfo* info = nullptr;  // name and model_type inside
  ModelFactory factory;
  // Auto classes that map info->model_type to this class: "AutoModel", "AutoModelForCausalLM", ...
  std::vector<std::string> auto_classes;
};

void register_model_class(ModelClassRegistration registration);
// The class registered under `name` ("BertForMaskedLM"), or nullptr.
const ModelClassRegistration* find_model_class(std::string_view name);
// Every registered class name, sorted.
std::vector<std::string> registered_model_classes();
// The class that `auto_class` maps `model_type` to; throws KeyError listing what is supported.
const ModelClassRegistration& model_class_for(std::string_view auto_class, std::string_view model_type);

// Loads any registered class by name.
std::shared_ptr<PreTrainedModel> load_model_class(std::string_view class_name, const std::filesystem::path& path,
                                                  const FromPretrainedOptions& options = {},
                                                  LoadingInfo* info = nullptr);

// One Auto class: from_pretrained reads the config to choose the model class.
class AutoModelClass {
 public:
  explicit AutoModelClass(std::string name) : name_(std::move(name)) {}
  std::shared_ptr<PreTrainedModel> from_pretrained(const std::filesystem::path& path,
                                                   const FromPretrainedOptions& options = {},
                                                   LoadingInfo* info = nullptr) const;
  // A randomly initialised model for `config`.
  std::shared_ptr<PreTrainedModel> from_config(const PretrainedConfig& config) const;
  // Maps `model_type` to `class_name` for this Auto class (register_for_auto_class).
  void register_model(std::string_view model_type, std::string_view class_name) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

inline const AutoModelClass AutoModel{"AutoModel"};
inline const AutoModelClass AutoModelForPreTraining{"AutoModelForPreTraining"};
inline const AutoModelClass AutoModelForMaskedLM{"AutoModelForMaskedLM"};
inline const AutoModelClass AutoModelForCausalLM{"AutoModelForCausalLM"};
inline const AutoModelClass AutoModelForSequenceClassification{"AutoModelForSequenceClassification"};
inline const AutoModelClass AutoModelForTokenClassification{"AutoModelForTokenClassification"};
inline const AutoModelClass AutoModelForQuestionAnswering{"AutoModelForQuestionAnswering"};
inline const AutoModelClass AutoModelForMultipleChoice{"AutoModelForMultipleChoice"};

// The class named by config.architectures[0] when registered, else the Auto class for the task
// a user would expect (AutoModel). Used by the CLI to load "whatever this folder holds".
std::shared_ptr<PreTrainedModel> load_any_model(const std::filesystem::path& path, const FromPretrainedOptions& options = {},
                                                LoadingInfo* info = nullptr);

// AutoConfig.from_pretrained.
PretrainedConfig auto_config(const std::filesystem::path& path, std::string_view subfolder = "");

}  // namespace hfcpp
