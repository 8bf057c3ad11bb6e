#include "hfcpp/io/safetensors.h"
#include "tensor_sources.h"

namespace hfcpp::detail {
namespace {

class SafetensorsSource final : public TensorSource {
 public:
  explicit SafetensorsSource(const std::filesystem::path& path)
      : TensorSource(CheckpointFormat::kSafetensors, path), file_(SafetensorsFile::open(path)) {
    files_.push_back(path);
    metadata_ = file_.header().metadata;
    for (const auto& entry : file_.header().tensors)
      add({entry.name, entry.dtype, entry.shape, entry.nbytes(), path, ""});
  }

  at::Tensor load(std::string_view key) const override {
    const SafetensorsEntry* entry = file_.header().find(key);
    if (entry == nullptr) throw_missing(key);
    return file_.tensor(*entry);
  }

 private:
  SafetensorsFile file_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors_source(const std::filesystem::path& path) {
  return std::make_unique<SafetensorsSource>(path);
}

}  // namespace hfcpp::detail
