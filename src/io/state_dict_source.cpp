#include "hfcpp/io/tensor_source.h"

#include <ATen/ATen.h>

namespace hfcpp {
namespace {

class StateDictSource final : public TensorSource {
 public:
  StateDictSource(std::vector<std::pair<std::string, at::Tensor>> tensors, std::string label)
      : TensorSource(CheckpointFormat::kSafetensors, label) {
    for (auto& [name, tensor] : tensors) {
      const std::string group = std::to_string(reinterpret_cast<std::uintptr_t>(tensor.storage().unsafeGetStorageImpl()));
      add({name, dtype_from_scalar_type(tensor.scalar_type()), tensor.sizes().vec(),
           static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size(), label, group});
      tensors_.emplace(name, tensor);
    }
  }

  at::Tensor load(std::string_view key) const override {
    auto it = tensors_.find(std::string(key));
    if (it == tensors_.end()) throw_missing(key);
    return it->second;
  }

 private:
  std::unordered_map<std::string, at::Tensor> tensors_;
};

}  // namespace

std::unique_ptr<TensorSource> make_state_dict_source(std::vector<std::pair<std::string, at::Tensor>> tensors,
                                                     std::string label) {
  return std::make_unique<StateDictSource>(std::move(tensors), std::move(label));
}

}  // namespace hfcpp
