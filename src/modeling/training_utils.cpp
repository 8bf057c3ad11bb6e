// PreTrainedModel's training helpers: gradient checkpointing, input gradients and memory hooks.
#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdio>
#include <unordered_set>

#include "hfcpp/error.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {
namespace {

// Resident set size in bytes (what psutil's memory_info().rss reports), from /proc/self/statm.
std::int64_t resident_bytes() {
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return 0;
  long long size = 0, resident = 0;
  const int read = std::fscanf(file, "%lld %lld", &size, &resident);
  std::fclose(file);
  return read == 2 ? resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

void set_gradient_checkpointing(PreTrainedModel& model, bool enable, bool preserve_rng_state) {
  for (const auto& [name, module] : nn::named_modules(model))
    if (auto* layers = dynamic_cast<nn::GradientCheckpointingLayers*>(module)) {
      layers->gradient_checkpointing = enable;
      layers->checkpoint_preserve_rng_state = preserve_rng_state;
    }
}

std::vector<nn::Module*> our_modules(PreTrainedModel& model) {
  std::vector<nn::Module*> out;
  for (const auto& [name, module] : nn::named_modules(model))
    if (auto* ours = dynamic_cast<nn::Module*>(module)) out.push_back(ours);
  return out;
}

}  // namespace

void PreTrainedModel::gradient_checkpointing_enable(bool preserve_rng_state) {
  if (!info_->supports_gradient_checkpointing) throw ValueError(info_->name + " does not support gradient checkpointing.");
  set_gradient_checkpointing(*this, true, preserve_rng_state);
}

void PreTrainedModel::gradient_checkpointing_disable() {
  if (info_->supports_gradient_checkpointing) set_gradient_checkpointing(*this, false, true);
}

bool PreTrainedModel::is_gradient_checkpointing() {
  for (const auto& [name, module] : nn::named_modules(*this))
    if (auto* layers = dynamic_cast<nn::GradientCheckpointingLayers*>(module))
      if (layers->gradient_checkpointing) return true;
  return false;
}

void PreTrainedModel::enable_input_require_grads() {
  disable_input_require_grads();
  nn::Embedding* embeddings = get_input_embeddings();
  const std::size_t id = embeddings->register_forward_hook([](nn::Module&, at::Tensor* output) {
    if (output != nullptr && output->defined() && at::isFloatingType(output->scalar_type()))
      output->requires_grad_(true);
  });
  require_grads_hook_ = {embeddings, id};
}

void PreTrainedModel::disable_input_require_grads() {
  auto [module, id] = std::exchange(require_grads_hook_, {nullptr, 0});
  if (module == nullptr) return;
  // The embeddings may have been replaced (resized) since: only a live module is touched.
  for (nn::Module* live : our_modules(*this))
    if (live == module) live->remove_forward_hook(id);
}

void PreTrainedModel::add_memory_hooks() {
  const std::vector<nn::Module*> modules = our_modules(*this);
  const std::unordered_set<nn::Module*> live(modules.begin(), modules.end());
  for (auto [module, id] : std::exchange(memory_hooks_, {}))
    if (live.count(module)) module->remove_forward_hook(id);
  for (nn::Module* module : modules) {
    memory_hooks_.emplace_back(module, module->register_forward_pre_hook([](nn::Module& m) {
      m.mem_rss_pre_forward = resident_bytes();
    }));
    memory_hooks_.emplace_back(module, module->register_forward_hook([](nn::Module& m, at::Tensor*) {
      m.mem_rss_post_forward = resident_bytes();
      m.mem_rss_diff += m.mem_rss_post_forward - m.mem_rss_pre_forward;
    }));
  }
  reset_memory_hooks_state();
}

void PreTrainedModel::reset_memory_hooks_state() {
  for (nn::Module* module : our_modules(*this)) {
    module->mem_rss_diff = 0;
    module->mem_rss_post_forward = 0;
    module->mem_rss_pre_forward = 0;
  }
}

}  // namespace hfcpp
