// Converting a checkpoint to another dtype, shard size, format or variant without building a
// model: tensors are streamed from the source to the destination (safetensors tensor by tensor,
// PyTorch .bin shard by shard), so peak memory stays around one shard, and nothing appears in the
// destination until every file is complete.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hfcpp/io/tensor_source.h"

namespace hfcpp {

// The weights of `path`: a weights file or an index json is returned as given; a folder is resolved
// as from_pretrained does (resolve_weights in weights_files.h). Throws FileError.
std::filesystem::path resolve_weights_path(const std::filesystem::path& path, std::string_view variant = {});

// Whether `name` is a file name Transformers gives weights or their index (model*.safetensors,
// pytorch_model*.bin, *.safetensors.index*.json, *.bin.index*.json, tf_model.h5, flax_model.msgpack).
bool is_weights_file_name(std::string_view name);

inline constexpr std::uint64_t kDefaultMaxShardSize = 5'000'000'000;  // save_pretrained's "5GB"

struct ConvertOptions {
  // Floating-point tensors are cast to this dtype; integer and bool tensors keep theirs.
  std::optional<c10::ScalarType> torch_dtype;
  std::uint64_t max_shard_size = kDefaultMaxShardSize;
  CheckpointFormat format = CheckpointFormat::kSafetensors;
  // Names the written files as save_pretrained(variant=...) does: model.fp16.safetensors.
  std::string variant;
  // Which weights to read when the source is a folder holding a variant.
  std::string source_variant;
};

struct ConvertResult {
  std::filesystem::path source;              // the weights file or index json that was read
  std::vector<std::string> weights_files;    // written into the destination, in shard order
  std::string index_file;                    // empty when the output is a single file
  std::vector<std::string> copied_files;     // the source folder's other files
  std::vector<std::string> removed_files;    // weights of an earlier save that would shadow these
  std::vector<std::string> dropped_aliases;  // tied duplicates, which safetensors does not store
  std::size_t tensor_count = 0;              // tensors written (aliases included for .bin)
  std::uint64_t total_size = 0;              // bytes of distinct storages, as in the index
};

// Reads the checkpoint at `source` (weights file, index json or model folder) and writes it to the
// folder `destination` under Transformers' names: model.safetensors, or model-0000i-of-0000n
// shards and model.safetensors.index.json beyond `max_shard_size` (pytorch_model* for .bin), with
// safetensors metadata {"format": "pt"}. When the source is a folder its other files are copied,
// config.json with "torch_dtype" updated when a dtype is given. Files are written to a staging
// folder inside `destination` and renamed into place when all are complete; on error nothing in
// `destination` has changed. Weights of an earlier save that would shadow the new ones (stale
// shards, a single file next to a new index or the reverse) are removed afterwards.
// Throws ValueError when `destination` is the source's own folder.
ConvertResult convert_checkpoint(const std::filesystem::path& source, const std::filesystem::path& destination,
                                 const ConvertOptions& options = {});

// `config_json` with "torch_dtype" set to the name of `torch_dtype`, written as Transformers writes
// config.json: json.dumps(indent=2, sort_keys=True) + "\n". Throws FormatError naming `label` when
// the text is not a JSON object.
std::string config_json_with_torch_dtype(std::string_view config_json, c10::ScalarType torch_dtype,
                                         std::string_view label);

}  // namespace hfcpp
