#include "hfcpp/nn/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>

#include <mutex>
#include <unordered_set>
#include <utility>

namespace hfcpp::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What the backward pass needs to run the layer again. Kept in the autograd context as a capsule:
// the closure and the parameters are not tensors the context could save.
struct CheckpointState : torch::CustomClassHolder {
  CheckpointFunction fn;
  std::shared_ptr<torch::nn::Module> keep_alive;  // null when the module is not shared-owned
  std::vector<at::Tensor> params;
  std::vector<bool> input_requires_grad;
  at::Tensor rng_state;  // the CPU generator's state before the forward; undefined: not preserved
};

at::Tensor cpu_rng_state() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Runs the recomputation with the forward's RNG state and gives the caller's state back after
// (torch.random.fork_rng), so checkpointing does not change what later random draws see.
class ForkedRng {
 public:
  explicit ForkedRng(const at::Tensor& state) {
    if (!state.defined()) return;
    saved_ = cpu_rng_state();
    set_cpu_rng_state(state);
  }
  ~ForkedRng() {
    if (saved_.defined()) set_cpu_rng_state(saved_);
  }
  ForkedRng(const ForkedRng&) = delete;
  ForkedRng& operator=(const ForkedRng&) = delete;

 private:
  at::Tensor saved_;
};

struct CheckpointNode : torch::autograd::Function<CheckpointNode> {
  static variable_list forward(AutogradContext* ctx, c10::intrusive_ptr<CheckpointState> state, at::TensorList inputs,
                               at::TensorList params) {
    std::vector<at::Tensor> input_list(inputs.begin(), inputs.end());
    for (const at::Tensor& input : input_list) state->input_requires_grad.push_back(input.requires_grad());
    ctx->save_for_backward(input_list);
    variable_list outputs = state->fn(input_list);  // grad mode is off here: no graph is kept
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto state = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    const variable_list saved = ctx->get_saved_variables();
    std::vector<at::Tensor> inputs;
    for (std::size_t i = 0; i < saved.size(); ++i)
      inputs.push_back(saved[i].detach().requires_grad_(state->input_requires_grad[i]));

    variable_list outputs;
    {
      ForkedRng rng(state->rng_state);
      torch::AutoGradMode grad_mode(true);
      outputs = state->fn(inputs);
    }

    variable_list differentiated, output_grads;
    for (std::size_t i = 0; i < outputs.size() && i < grad_outputs.size(); ++i) {
      if (!grad_outputs[i].defined() || !outputs[i].requires_grad()) continue;
      differentiated.push_back(outputs[i]);
      output_grads.push_back(grad_outputs[i]);
    }
    // One gradient per forward argument: the state, then each input, then each parameter.
    variable_list result(1 + inputs.size() + state->params.size());
    variable_list wrt;
    std::vector<std::size_t> slot;
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].requires_grad()) wrt.push_back(inputs[i]), slot.push_back(1 + i);
    for (std::size_t i = 0; i < state->params.size(); ++i)
      if (state->params[i].requires_grad()) wrt.push_back(state->params[i]), slot.push_back(1 + inputs.size() + i);
    if (differentiated.empty() || wrt.empty()) return result;
    const variable_list grads = torch::autograd::grad(differentiated, wrt, output_grads, /*retain_graph=*/false,
                                                      /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < grads.size(); ++i) result[slot[i]] = grads[i];
    return result;
  }
};

}  // namespace

std::vector<at::Tensor> checkpoint(torch::nn::Module& module, CheckpointFunction fn,
                                   const std::vector<at::Tensor>& inputs, bool preserve_rng_state) {
  if (!at::GradMode::is_enabled()) return fn(inputs);
  auto state = c10::make_intrusive<CheckpointState>();
  try {
    state->keep_alive = module.shared_from_this();
  } catch (const std::bad_weak_ptr&) {
    // A module not owned by a shared_ptr: the caller keeps it alive.
  }
  // Each parameter once (tied ones appear under several names), or its gradient would be added twice.
  std::unordered_set<const void*> seen;
  for (const at::Tensor& p : module.parameters())
    if (p.defined() && seen.insert(p.unsafeGetTensorImpl()).second) state->params.push_back(p);
  if (preserve_rng_state) state->rng_state = cpu_rng_state();
  state->fn = std::move(fn);
  const std::vector<at::Tensor> params = state->params;
  return CheckpointNode::apply(std::move(state), at::TensorList(inputs), at::TensorList(params));
}

}  // namespace hfcpp::nn
