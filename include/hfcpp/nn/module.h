// The base of every hfcpp layer and model: a torch::nn::Module whose parameters are created in
// one place that decides their device and dtype (see ParameterScope) and are never randomly
// initialised on construction, so loading a checkpoint pays nothing for weights it overwrites.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfcpp::nn {

// Where parameters of modules built in this thread go. Models built for loading use the meta
// device (no memory at all) and are materialised tensor by tensor from the checkpoint.
struct ParameterPlacement {
  c10::Device device{c10::DeviceType::CPU};
  c10::ScalarType dtype = c10::ScalarType::Float;
  // False while from_pretrained builds a model: post_init() then skips random initialisation
  // (Transformers' no_init_weights), and only what the checkpoint lacks is initialised later.
  bool initialize = true;
};

// Sets the placement for modules built while it lives (nests; restores the previous one).
class ParameterScope {
 public:
  explicit ParameterScope(ParameterPlacement placement);
  ~ParameterScope();
  ParameterScope(const ParameterScope&) = delete;
  ParameterScope& operator=(const ParameterScope&) = delete;
  static const ParameterPlacement& current();

 private:
  ParameterPlacement previous_;
};

// What a parameter holds before the model's init_weights or a checkpoint fills it. Python modules
// build some parameters as torch.zeros / torch.ones in __init__ (e.g. BERT's prediction bias);
// a parameter that is neither loaded nor initialised by the model gets this value.
enum class InitialValue { kUninitialized, kZeros, kOnes };

class Module;

// Forward hooks (torch.nn.Module.register_forward_pre_hook / register_forward_hook). libtorch
// modules have none, so every hfcpp forward opens a ForwardScope that runs them. A post-hook sees
// the forward's tensor output (the first one of a forward returning a pair) and may replace it;
// it gets nullptr when the forward has no single tensor output. Pre-hooks see no arguments:
// forwards have typed signatures, and what hooks are for here (memory tracing, loading offloaded
// weights before and dropping them after) needs only the module.
using ForwardPreHook = std::function<void(Module&)>;
using ForwardHook = std::function<void(Module&, at::Tensor* output)>;

class Module : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  // Registers a parameter of `shape` with the current placement (uninitialised memory, or the
  // meta device). Returns the registered tensor.
  at::Tensor new_parameter(const std::string& name, at::IntArrayRef shape,
                           InitialValue initial = InitialValue::kUninitialized);
  // Registers an absent optional parameter (Python's `bias = None`).
  void no_parameter(const std::string& name);
  // Registers a buffer; `persistent = false` keeps it out of state_dict (Python's persistent=False).
  at::Tensor add_buffer(const std::string& name, at::Tensor value, bool persistent = true);

  // The registered parameter `name` of this module (not of children); throws when absent.
  const at::Tensor& param(std::string_view name) const;
  // nullptr when absent or registered as None.
  const at::Tensor* find_param(std::string_view name) const;
  at::Tensor buffer(std::string_view name) const;
  // Replaces the tensor registered under `name` (identity changes: this is how weights are tied).
  void set_param(const std::string& name, at::Tensor tensor);
  InitialValue initial_value(const std::string& name) const;
  bool is_persistent_buffer(const std::string& name) const { return !non_persistent_.count(name); }

  // Gives every meta-device parameter of this module (not children) real memory on `device`,
  // holding its InitialValue (uninitialised memory for kUninitialized).
  void materialize(c10::Device device = c10::Device(c10::DeviceType::CPU));

  // Transformers' _is_hf_initialized: set once init_weights or a checkpoint filled the module.
  bool hf_initialized() const { return hf_initialized_; }
  void set_hf_initialized(bool value) { hf_initialized_ = value; }

  // Hooks run in registration order; the returned id removes one (remove_forward_hook returns
  // false for an unknown id).
  std::size_t register_forward_pre_hook(ForwardPreHook hook);
  std::size_t register_forward_hook(ForwardHook hook);
  bool remove_forward_hook(std::size_t id);
  bool has_forward_hooks() const { return hooks_ != nullptr; }
  // Whether any module of the process has hooks: fast paths that skip the forwards of whole
  // subtrees check the subtree only then.
  static bool any_forward_hooks();
  // Whether this module or any module below it has hooks.
  bool forward_hooks_in_subtree();
  void run_forward_pre_hooks();
  void run_forward_hooks(at::Tensor* output);

  // What add_memory_hooks() records, in bytes of resident memory (Transformers' attributes of
  // the same names): RSS before and after the last forward, and the sum of after - before over
  // the forwards since reset_memory_hooks_state().
  std::int64_t mem_rss_pre_forward = 0;
  std::int64_t mem_rss_post_forward = 0;
  std::int64_t mem_rss_diff = 0;

 private:
  struct Hooks {
    Hooks();
    ~Hooks();
    Hooks(const Hooks&) = delete;
    Hooks& operator=(const Hooks&) = delete;
    std::vector<std::pair<std::size_t, ForwardPreHook>> pre;
    std::vector<std::pair<std::size_t, ForwardHook>> post;
  };
  std::set<std::string> non_persistent_;
  std::map<std::string, InitialValue> initial_values_;
  bool hf_initialized_ = false;
  std::shared_ptr<Hooks> hooks_;  // null while no hook is registered: a forward pays one test
};

// Opened first thing in a forward: runs the module's pre-hooks; `return scope.output(result);`
// runs its post-hooks on the result. A forward left by another return runs them (with no output)
// when the scope closes; one left by an exception does not, as in PyTorch.
class ForwardScope {
 public:
  explicit ForwardScope(const Module& module)
      : module_(module.has_forward_hooks() ? const_cast<Module*>(&module) : nullptr),
        exceptions_(std::uncaught_exceptions()) {
    if (module_ != nullptr) module_->run_forward_pre_hooks();
  }
  ForwardScope(const ForwardScope&) = delete;
  ForwardScope& operator=(const ForwardScope&) = delete;
  ~ForwardScope() noexcept(false) {
    if (module_ != nullptr && std::uncaught_exceptions() == exceptions_) module_->run_forward_hooks(nullptr);
  }

  template <typename T>
  T output(T value) {
    if (Module* module = std::exchange(module_, nullptr)) module->run_forward_hooks(tensor_of(value));
    return value;
  }

 private:
  static at::Tensor* tensor_of(at::Tensor& t) { return &t; }
  template <typename Second>
  static at::Tensor* tensor_of(std::pair<at::Tensor, Second>& p) { return &p.first; }
  template <typename T>
  static at::Tensor* tensor_of(T&) { return nullptr; }

  Module* module_;
  int exceptions_;
};

// Python's state_dict(): per module in pre-order, its parameters then its persistent buffers.
// Tied parameters appear under every name.
using NamedTensorList = std::vector<std::pair<std::string, at::Tensor>>;
NamedTensorList state_dict_items(const torch::nn::Module& root, bool keep_vars = true);

// Every module with its dotted name, pre-order (root first, named "").
std::vector<std::pair<std::string, torch::nn::Module*>> named_modules(torch::nn::Module& root);
// Post-order, as torch.nn.Module.apply visits modules.
void apply_post_order(torch::nn::Module& root, const std::function<void(const std::string&, torch::nn::Module&)>& fn);

// The parameter or buffer under a dotted name, or an undefined tensor.
at::Tensor find_tensor(torch::nn::Module& root, const std::string& dotted_name);
// The module owning a dotted tensor name and the leaf name ("a.b.weight" -> (module a.b, "weight")).
std::pair<torch::nn::Module*, std::string> owner_of(torch::nn::Module& root, const std::string& dotted_name);

}  // namespace hfcpp::nn
