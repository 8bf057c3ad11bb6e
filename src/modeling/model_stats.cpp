// ModuleUtilsMixin's counting helpers: memory footprint and the FLOPs estimate.
#include <ATen/ATen.h>

#include <unordered_set>

#include "hfcpp/logging.h"
#include "hfcpp/modeling/modeling_utils.h"

namespace hfcpp {
namespace {

// Bytes of `tensors`, each storage-sharing alias (tied weights) counted once, as Python's
// parameters() / buffers() list a shared tensor once.
std::int64_t bytes_once(const std::vector<at::Tensor>& tensors) {
  std::unordered_set<const void*> seen;
  std::int64_t total = 0;
  for (const auto& t : tensors)
    if (t.defined() && seen.insert(t.unsafeGetTensorImpl()).second)
      total += t.numel() * static_cast<std::int64_t>(t.element_size());
  return total;
}

}  // namespace

std::int64_t PreTrainedModel::get_memory_footprint(bool return_buffers) const {
  std::int64_t total = bytes_once(parameters());
  if (return_buffers) total += bytes_once(buffers());
  return total;
}

std::int64_t PreTrainedModel::estimate_tokens(const ModelInputs& inputs) const {
  // Every hfcpp model's main input is input_ids; the class attribute still decides, as in Python.
  if (class_info().main_input_name == "input_ids" && inputs.input_ids.defined()) return inputs.input_ids.numel();
  logging::warning_once("Could not estimate the number of tokens of the input, floating-point operations will not "
                        "be computed");
  return 0;
}

std::int64_t PreTrainedModel::floating_point_ops(const ModelInputs& inputs, bool exclude_embeddings) const {
  return 6 * estimate_tokens(inputs) * num_parameters(/*only_trainable=*/false, exclude_embeddings);
}

}  // namespace hfcpp
