#include "hfcpp/models/auto.h"

#include <map>
#include <mutex>

#include "hfcpp/error.h"
#include "builtin_models.h"

namespace hfcpp {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, ModelClassRegistration, std::less<>> classes;
  // auto class -> model_type -> class name
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> auto_map;
};

// The registry as is (registration itself uses this, also while the builtins register).
Registry& raw_registry() {
  static Registry* instance = new Registry;
  return *instance;
}

// The registry with the builtin models in it.
Registry& registry() {
  detail::ensure_builtin_models_registered();
  return raw_registry();
}

}  // namespace

namespace detail {
void ensure_builtin_models_registered() {
  static std::once_flag builtins;
  std::call_once(builtins, [] { register_builtin_models(); });
}
}  // namespace detail

void register_model_class(ModelClassRegistration registration) {
  if (registration.info == nullptr || !registration.factory)
    throw ValueError("register_model_class needs class info and a factory");
  Registry& r = raw_registry();
  std::lock_guard lock(r.mutex);
  for (const auto& auto_class : registration.auto_classes)
    r.auto_map[auto_class][registration.info->model_type] = registration.info->name;
  r.classes[registration.info->name] = std::move(registration);
}

const ModelClassRegistration* find_model_class(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.classes.find(name);
  return it == r.classes.end() ? nullptr : &it->second;
}

std::vector<std::string> registered_model_classes() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, reg] : r.classes) names.push_back(name);
  return names;
}

const ModelClassRegistration& model_class_for(std::string_view auto_class, std::string_view model_type) {
  Registry& r = registry();
  std::string class_name;
  {
    std::lock_guard lock(r.mutex);
    auto map = r.auto_map.find(auto_class);
    if (map != r.auto_map.end()) {
      auto it = map->second.find(model_type);
      if (it != map->second.end()) class_name = it->second;
    }
    if (class_name.empty()) {
      std::string supported;
      if (map != r.auto_map.end())
        for (const auto& [type, name] : map->second) supported += (supported.empty() ? "" : ", ") + type;
      throw KeyError(std::string(auto_class) + " has no model for model_type '" + std::string(model_type) +
                     "' (supported: " + (supported.empty() ? "none" : supported) + ")");
    }
  }
  return *find_model_class(class_name);
}

std::shared_ptr<PreTrainedModel> load_model_class(std::string_view class_name, const std::filesystem::path& path,
                                                  const FromPretrainedOptions& options, LoadingInfo* info) {
  const ModelClassRegistration* reg = find_model_class(class_name);
  if (reg == nullptr) {
    std::string known;
    for (const auto& name : registered_model_classes()) known += (known.empty() ? "" : ", ") + name;
    throw KeyError("unknown model class '" + std::string(class_name) + "' (known: " + known + ")");
  }
  return load_pretrained(reg->factory, *reg->info, path, options, info);
}

PretrainedConfig auto_config(const std::filesystem::path& path, std::string_view subfolder) {
  registry();  // model types register their config defaults with the builtins
  return PretrainedConfig::from_pretrained(path, subfolder);
}

std::shared_ptr<PreTrainedModel> AutoModelClass::from_pretrained(const std::filesystem::path& path,
                                                                 const FromPretrainedOptions& options,
                                                                 LoadingInfo* info) const {
  const PretrainedConfig config = options.config ? *options.config : auto_config(path, options.subfolder);
  const ModelClassRegistration& reg = model_class_for(name_, config.model_type());
  return load_pretrained(reg.factory, *reg.info, path, options, info);
}

std::shared_ptr<PreTrainedModel> AutoModelClass::from_config(const PretrainedConfig& config) const {
  const ModelClassRegistration& reg = model_class_for(name_, config.model_type());
  auto model = reg.factory(std::make_shared<PretrainedConfig>(config));
  return model;
}

void AutoModelClass::register_model(std::string_view model_type, std::string_view class_name) const {
  if (find_model_class(class_name) == nullptr)
    throw KeyError("register " + std::string(class_name) + " with register_model_class before mapping it in " + name_);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.auto_map[name_][std::string(model_type)] = std::string(class_name);
}

std::shared_ptr<PreTrainedModel> load_any_model(const std::filesystem::path& path, const FromPretrainedOptions& options,
                                                LoadingInfo* info) {
  const PretrainedConfig config = options.config ? *options.config : auto_config(path, options.subfolder);
  for (const auto& arch : config.architectures())
    if (find_model_class(arch) != nullptr) return load_model_class(arch, path, options, info);
  return AutoModel.from_pretrained(path, options, info);
}

}  // namespace hfcpp
