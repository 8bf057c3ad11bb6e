// Splitting a state dict into shards and naming them as Transformers does, and loading a sharded
// checkpoint folder into a module.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hfcpp/state_dict.h"

namespace torch::nn {
class Module;
}

namespace hfcpp {

inline constexpr std::string_view kSafeWeightsName = "model.safetensors";
inline constexpr std::string_view kSafeWeightsIndexName = "model.safetensors.index.json";
inline constexpr std::string_view kWeightsName = "pytorch_model.bin";
inline constexpr std::string_view kWeightsIndexName = "pytorch_model.bin.index.json";

// "model.safetensors" + "fp16" -> "model.fp16.safetensors"; the index keeps ".index.json" last:
// "model.safetensors.index.json" + "fp16" -> "model.safetensors.index.fp16.json" (Transformers'
// _add_variant splits at the last dot). No variant: unchanged.
std::string add_variant(std::string_view weights_name, std::string_view variant);

struct ShardPlan {
  // Shard file name -> keys in it, in shard order.
  std::vector<std::pair<std::string, std::vector<std::string>>> shards;
  std::uint64_t total_size = 0;  // bytes of every distinct storage
  bool is_sharded() const { return shards.size() > 1; }
};

// huggingface_hub's split_state_dict_into_shards (what save_pretrained uses): walks the keys in
// order, starts a new shard when the next tensor would exceed `max_shard_size`, puts a tensor
// bigger than the limit in a shard of its own, and keeps tensors that share a storage in the
// shard of the first of them. Sizes are whole-storage sizes. `filename_pattern` contains
// "{suffix}", replaced by "" for a single shard or "-00001-of-00003" otherwise.
ShardPlan split_state_dict_into_shards(const StateDict& state_dict, std::uint64_t max_shard_size,
                                       std::string_view filename_pattern = "model{suffix}.safetensors");

// The index json exactly as Transformers writes it (indent 2, sorted keys, trailing newline).
std::string shard_index_json(const ShardPlan& plan);

struct IncompatibleKeys {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

// Transformers' load_sharded_checkpoint: loads the index in `folder` (safetensors preferred when
// `prefer_safe` and both exist) shard by shard into `module`'s parameters and buffers (names as in
// named_parameters / named_buffers). With `strict`, missing or unexpected keys raise before any
// tensor is loaded. Returns the keys that did not match.
IncompatibleKeys load_sharded_checkpoint(torch::nn::Module& module, const std::filesystem::path& folder,
                                         bool strict = true, bool prefer_safe = true);

}  // namespace hfcpp
