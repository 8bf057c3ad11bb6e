#include "hfcpp/modeling/sharding.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <map>
#include <set>

#include "hfcpp/error.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/modeling/assign.h"

namespace hfcpp {

std::string add_variant(std::string_view weights_name, std::string_view variant) {
  std::string name(weights_name);
  if (variant.empty()) return name;
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return name + "." + std::string(variant);
  return name.substr(0, dot) + "." + std::string(variant) + name.substr(dot);
}

namespace {

std::string shard_name(std::string_view pattern, std::size_t index, std::size_t count) {
  std::string suffix;
  if (count > 1) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "-%05zu-of-%05zu", index + 1, count);
    suffix = buffer;
  }
  std::string name(pattern);
  const auto at = name.find("{suffix}");
  if (at == std::string::npos)
    throw ValueError("filename pattern '" + name + "' has no {suffix} placeholder");
  return name.replace(at, 8, suffix);
}

}  // namespace

ShardPlan split_state_dict_into_shards(const StateDict& state_dict, std::uint64_t max_shard_size,
                                       std::string_view filename_pattern) {
  using Keys = std::vector<std::string>;
  std::vector<Keys> shards;
  Keys current;
  std::uint64_t current_size = 0;
  std::uint64_t total_size = 0;
  // Storage -> keys that share it; the first key decides the shard, the others follow it.
  std::map<const void*, Keys> keys_of_storage;
  std::vector<const void*> storage_order;

  for (const auto& item : state_dict) {
    const at::Tensor& tensor = item.value();
    const void* storage = tensor.storage().unsafeGetStorageImpl();
    auto [it, first_of_storage] = keys_of_storage.try_emplace(storage);
    it->second.push_back(item.key());
    if (!first_of_storage) continue;
    storage_order.push_back(storage);

    const std::uint64_t size = tensor.storage().nbytes();
    if (size > max_shard_size) {
      total_size += size;
      shards.push_back({item.key()});
      continue;
    }
    if (current_size + size > max_shard_size) {
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(item.key());
    current_size += size;
    total_size += size;
  }
  if (!current.empty()) shards.push_back(std::move(current));

  ShardPlan plan;
  plan.total_size = total_size;
  if (shards.size() <= 1) {
    // One shard: every key, in state-dict order.
    Keys all;
    for (const auto& item : state_dict) all.push_back(item.key());
    plan.shards.emplace_back(shard_name(filename_pattern, 0, 1), std::move(all));
    return plan;
  }
  for (const void* storage : storage_order) {
    const Keys& keys = keys_of_storage[storage];
    for (auto& shard : shards)
      if (std::find(shard.begin(), shard.end(), keys.front()) != shard.end()) {
        shard.insert(shard.end(), keys.begin() + 1, keys.end());
        break;
      }
  }
  for (std::size_t i = 0; i < shards.size(); ++i)
    plan.shards.emplace_back(shard_name(filename_pattern, i, shards.size()), std::move(shards[i]));
  return plan;
}

std::string shard_index_json(const ShardPlan& plan) {
  nlohmann::json index;  // std::map-backed: keys sorted as Python's sort_keys=True
  index["metadata"]["total_size"] = plan.total_size;
  index["weight_map"] = nlohmann::json::object();
  for (const auto& [file, keys] : plan.shards)
    for (const auto& key : keys) index["weight_map"][key] = file;
  return index.dump(2, ' ', /*ensure_ascii=*/true) + "\n";
}

IncompatibleKeys load_sharded_checkpoint(torch::nn::Module& module, const std::filesystem::path& folder,
                                         bool strict, bool prefer_safe) {
  const auto safe_index = folder / kSafeWeightsIndexName;
  const auto bin_index = folder / kWeightsIndexName;
  const bool have_safe = std::filesystem::exists(safe_index);
  const bool have_bin = std::filesystem::exists(bin_index);
  if (!have_safe && !have_bin)
    throw FileError("can't find a checkpoint index (" + std::string(kSafeWeightsIndexName) + " or " +
                    std::string(kWeightsIndexName) + ") in " + folder.string());
  const auto index_path = (have_safe && (prefer_safe || !have_bin)) ? safe_index : bin_index;
  const auto source = open_tensor_source(index_path);

  std::map<std::string, at::Tensor> targets;
  for (const auto& item : module.named_parameters()) targets.emplace(item.key(), item.value());
  for (const auto& item : module.named_buffers()) targets.emplace(item.key(), item.value());

  IncompatibleKeys result;
  for (const auto& [name, tensor] : targets)
    if (!source->contains(name)) result.missing_keys.push_back(name);
  for (const auto& meta : source->tensors())
    if (!targets.count(meta.key)) result.unexpected_keys.push_back(meta.key);
  if (strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty())) {
    std::string message = "error(s) in loading state_dict for the module from " + index_path.string();
    if (!result.missing_keys.empty()) {
      message += "\n  missing keys:";
      for (const auto& k : result.missing_keys) message += " " + k;
    }
    if (!result.unexpected_keys.empty()) {
      message += "\n  unexpected keys:";
      for (const auto& k : result.unexpected_keys) message += " " + k;
    }
    throw KeyError(message);
  }
  // Shard by shard, in file order: only one shard's pages are touched at a time.
  for (const auto& meta : source->tensors()) {
    auto it = targets.find(meta.key);
    if (it == targets.end()) continue;
    at::Tensor& target = it->second;
    at::Tensor value = source->load(meta.key);
    if (value.sizes() != target.sizes())
      throw ValueError("size mismatch for " + meta.key + ": the checkpoint has shape " +
                       c10::str(value.sizes()) + ", the module " + c10::str(target.sizes()));
    copy_into(target, value);
  }
  return result;
}

}  // namespace hfcpp
