// A lazy, read-only view of the tensors of a checkpoint: one weights file (safetensors or
// PyTorch .bin) or a sharded index over several. Opening reads headers only; load() reads the
// bytes of one tensor, so a model can be materialised tensor by tensor with ~1x peak memory.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hfcpp/dtype.h"

namespace hfcpp {

enum class CheckpointFormat { kSafetensors, kTorchBin };
std::string_view format_name(CheckpointFormat format);

struct TensorMeta {
  std::string key;
  DType dtype;  // as stored
  std::vector<std::int64_t> shape;
  std::uint64_t nbytes = 0;
  std::filesystem::path file;  // the weights file that holds it
  // Tensors with the same non-empty group share storage in the file (tied weights of a .bin).
  std::string storage_group;
  std::int64_t numel() const;
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  // Every tensor, grouped by file in load order (shard by shard), file order within a file.
  const std::vector<TensorMeta>& tensors() const { return tensors_; }
  const TensorMeta* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // The tensor in its stored dtype on the CPU: a zero-copy view of the mapped file when aligned.
  // Throws KeyError naming the checkpoint for an unknown key.
  virtual at::Tensor load(std::string_view key) const = 0;
  // Cast to `dtype` (when given) and moved to `device`; integer and bool tensors are cast too,
  // callers that must keep them (from_pretrained) pass nullopt for those.
  at::Tensor load(std::string_view key, std::optional<c10::ScalarType> dtype, c10::Device device) const;

  CheckpointFormat format() const { return format_; }
  // The weights files, in load order; the index json first is not included.
  const std::vector<std::filesystem::path>& files() const { return files_; }
  // safetensors __metadata__ of the first file (empty for .bin).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  std::uint64_t total_bytes() const;
  // A short name for errors: the index or the file.
  const std::filesystem::path& origin() const { return origin_; }

 protected:
  TensorSource(CheckpointFormat format, std::filesystem::path origin)
      : format_(format), origin_(std::move(origin)) {}
  void add(TensorMeta meta);
  [[noreturn]] void throw_missing(std::string_view key) const;

  CheckpointFormat format_;
  std::filesystem::path origin_;
  std::vector<std::filesystem::path> files_;
  std::map<std::string, std::string> metadata_;

 private:
  std::vector<TensorMeta> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
};

// A sharded checkpoint's index json: {"metadata": {"total_size": N}, "weight_map": {key: file}}.
struct ShardIndex {
  std::optional<std::uint64_t> total_size;
  std::vector<std::pair<std::string, std::string>> weight_map;  // key -> file, in file order
  std::vector<std::string> shard_files() const;                 // sorted, unique (Transformers' order)
};
// Validates the JSON: file names must be plain names inside the checkpoint folder (no
// directories, no "..", not absolute), so a hostile index cannot read files elsewhere.
ShardIndex parse_shard_index(std::string_view json_text, std::string_view label);

// A source over tensors already in memory (from_pretrained's state_dict option).
std::unique_ptr<TensorSource> make_state_dict_source(std::vector<std::pair<std::string, at::Tensor>> tensors,
                                                     std::string label = "state_dict");

// Opens a weights file (*.safetensors, *.bin / *.pt / *.pth) or an index json (*.index.json).
std::unique_ptr<TensorSource> open_tensor_source(const std::filesystem::path& path);

}  // namespace hfcpp
