#include "hfcpp/error.h"
#include "tensor_sources.h"

#include "hfcpp/io/torch_bin.h"

namespace hfcpp::detail {
namespace {

class TorchBinSource final : public TensorSource {
 public:
  explicit TorchBinSource(const std::filesystem::path& path)
      : TensorSource(CheckpointFormat::kTorchBin, path), file_(TorchBinFile::open(path)) {
    files_.push_back(path);
    for (const auto& entry : file_.entries())
      add({entry.name, dtype_from_scalar_type(entry.dtype), entry.shape, entry.nbytes(), path,
           entry.storage_key});
  }

  at::Tensor load(std::string_view key) const override {
    if (file_.find(key) == nullptr) throw_missing(key);
    return file_.tensor(key);
  }

 private:
  TorchBinFile file_;
};

}  // namespace

std::unique_ptr<TensorSource> open_torch_bin_source(const std::filesystem::path& path) {
  return std::make_unique<TorchBinSource>(path);
}

}  // namespace hfcpp::detail
