#include "hfcpp/nn/module.h"

#include <ATen/ATen.h>

#include <atomic>

#include "hfcpp/error.h"
#include "hfcpp/modeling/assign.h"

namespace hfcpp::nn {
namespace {

ParameterPlacement& thread_placement() {
  thread_local ParameterPlacement placement;
  return placement;
}

void pre_order(torch::nn::Module& module, const std::string& prefix,
               std::vector<std::pair<std::string, torch::nn::Module*>>& out) {
  out.emplace_back(prefix, &module);
  for (const auto& child : module.named_children())
    pre_order(*child.value(), prefix.empty() ? child.key() : prefix + "." + child.key(), out);
}

void post_order(torch::nn::Module& module, const std::string& prefix,
                const std::function<void(const std::string&, torch::nn::Module&)>& fn) {
  for (const auto& child : module.named_children())
    post_order(*child.value(), prefix.empty() ? child.key() : prefix + "." + child.key(), fn);
  fn(prefix, module);
}

}  // namespace

ParameterScope::ParameterScope(ParameterPlacement placement) : previous_(thread_placement()) {
  thread_placement() = placement;
}
ParameterScope::~ParameterScope() { thread_placement() = previous_; }
const ParameterPlacement& ParameterScope::current() { return thread_placement(); }

at::Tensor Module::new_parameter(const std::string& name, at::IntArrayRef shape, InitialValue initial) {
  const ParameterPlacement& placement = ParameterScope::current();
  at::Tensor tensor = at::empty(shape, at::TensorOptions().device(placement.device).dtype(placement.dtype));
  if (!tensor.is_meta()) {
    if (initial == InitialValue::kZeros) tensor.zero_();
    if (initial == InitialValue::kOnes) tensor.fill_(1);
  }
  initial_values_[name] = initial;
  return register_parameter(name, tensor);
}

namespace {
std::size_t next_hook_id() {
  static std::atomic<std::size_t> id{0};
  return ++id;
}
}  // namespace

namespace {
std::atomic<std::int64_t> live_hook_lists{0};  // modules' Hooks objects alive in the process
}  // namespace

Module::Hooks::Hooks() { live_hook_lists.fetch_add(1, std::memory_order_relaxed); }
Module::Hooks::~Hooks() { live_hook_lists.fetch_sub(1, std::memory_order_relaxed); }

bool Module::any_forward_hooks() { return live_hook_lists.load(std::memory_order_relaxed) > 0; }

bool Module::forward_hooks_in_subtree() {
  if (has_forward_hooks()) return true;
  for (const auto& child : modules(/*include_self=*/false)) {
    const auto* module = dynamic_cast<const Module*>(child.get());
    if (module != nullptr && module->has_forward_hooks()) return true;
  }
  return false;
}

std::size_t Module::register_forward_pre_hook(ForwardPreHook hook) {
  if (!hooks_) hooks_ = std::make_shared<Hooks>();
  const std::size_t id = next_hook_id();
  hooks_->pre.emplace_back(id, std::move(hook));
  return id;
}

std::size_t Module::register_forward_hook(ForwardHook hook) {
  if (!hooks_) hooks_ = std::make_shared<Hooks>();
  const std::size_t id = next_hook_id();
  hooks_->post.emplace_back(id, std::move(hook));
  return id;
}

bool Module::remove_forward_hook(std::size_t id) {
  if (!hooks_) return false;
  auto drop = [id](auto& list) {
    return std::erase_if(list, [id](const auto& entry) { return entry.first == id; }) > 0;
  };
  const bool removed = drop(hooks_->pre) || drop(hooks_->post);
  if (hooks_->pre.empty() && hooks_->post.empty()) hooks_.reset();
  return removed;
}

void Module::run_forward_pre_hooks() {
  // A copy: a hook may remove itself (or others) while the list runs.
  if (!hooks_) return;
  const auto pre = hooks_->pre;
  for (const auto& [id, hook] : pre) hook(*this);
}

void Module::run_forward_hooks(at::Tensor* output) {
  if (!hooks_) return;
  const auto post = hooks_->post;
  for (const auto& [id, hook] : post) hook(*this, output);
}

void Module::no_parameter(const std::string& name) { register_parameter(name, at::Tensor(), false); }

at::Tensor Module::add_buffer(const std::string& name, at::Tensor value, bool persistent) {
  if (!persistent) non_persistent_.insert(name);
  return register_buffer(name, std::move(value));
}

const at::Tensor& Module::param(std::string_view name) const {
  const at::Tensor* found = find_param(name);
  if (found == nullptr)
    throw KeyError("module " + this->name() + " has no parameter '" + std::string(name) + "'");
  return *found;
}

const at::Tensor* Module::find_param(std::string_view name) const {
  const at::Tensor* found = parameters_.find(std::string(name));
  return (found != nullptr && found->defined()) ? found : nullptr;
}

at::Tensor Module::buffer(std::string_view name) const {
  for (const auto& item : named_buffers(/*recurse=*/false))
    if (item.key() == name) return item.value();
  throw KeyError("module " + this->name() + " has no buffer '" + std::string(name) + "'");
}

void Module::set_param(const std::string& name, at::Tensor tensor) {
  at::Tensor* slot = parameters_.find(name);
  if (slot == nullptr) throw KeyError("module " + this->name() + " has no parameter '" + name + "'");
  *slot = std::move(tensor);
}

InitialValue Module::initial_value(const std::string& name) const {
  auto it = initial_values_.find(name);
  return it == initial_values_.end() ? InitialValue::kUninitialized : it->second;
}

void Module::materialize(c10::Device device) {
  for (auto& item : parameters_) {
    at::Tensor& tensor = item.value();
    if (!tensor.defined() || !tensor.is_meta()) continue;
    at::Tensor real = at::empty(tensor.sizes(), tensor.options().device(device));
    const InitialValue initial = initial_value(item.key());
    if (initial == InitialValue::kZeros) real.zero_();
    if (initial == InitialValue::kOnes) real.fill_(1);
    assign_in_place(tensor, real);
  }
}

NamedTensorList state_dict_items(const torch::nn::Module& root, bool keep_vars) {
  NamedTensorList out;
  auto& mutable_root = const_cast<torch::nn::Module&>(root);
  for (const auto& [prefix, module] : named_modules(mutable_root)) {
    const std::string dot = prefix.empty() ? "" : prefix + ".";
    for (const auto& item : module->named_parameters(/*recurse=*/false))
      out.emplace_back(dot + item.key(), keep_vars ? item.value() : item.value().detach());
    const auto* ours = dynamic_cast<const Module*>(module);
    for (const auto& item : module->named_buffers(/*recurse=*/false)) {
      if (ours != nullptr && !ours->is_persistent_buffer(item.key())) continue;
      out.emplace_back(dot + item.key(), item.value());
    }
  }
  return out;
}

std::vector<std::pair<std::string, torch::nn::Module*>> named_modules(torch::nn::Module& root) {
  std::vector<std::pair<std::string, torch::nn::Module*>> out;
  pre_order(root, "", out);
  return out;
}

void apply_post_order(torch::nn::Module& root,
                      const std::function<void(const std::string&, torch::nn::Module&)>& fn) {
  post_order(root, "", fn);
}

std::pair<torch::nn::Module*, std::string> owner_of(torch::nn::Module& root, const std::string& dotted_name) {
  torch::nn::Module* module = &root;
  std::size_t start = 0;
  for (std::size_t dot = dotted_name.find('.'); dot != std::string::npos; dot = dotted_name.find('.', start)) {
    const std::string child = dotted_name.substr(start, dot - start);
    torch::nn::Module* next = nullptr;
    for (const auto& item : module->named_children())
      if (item.key() == child) next = item.value().get();
    if (next == nullptr) return {nullptr, ""};
    module = next;
    start = dot + 1;
  }
  return {module, dotted_name.substr(start)};
}

at::Tensor find_tensor(torch::nn::Module& root, const std::string& dotted_name) {
  auto [module, leaf] = owner_of(root, dotted_name);
  if (module == nullptr) return {};
  for (const auto& item : module->named_parameters(false))
    if (item.key() == leaf) return item.value();
  for (const auto& item : module->named_buffers(false))
    if (item.key() == leaf) return item.value();
  return {};
}

}  // namespace hfcpp::nn
