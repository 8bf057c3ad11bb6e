#include "hfcpp/modeling/sharding.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

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

// huggingface_hub's get_torch_storage_id: (device, data pointer, storage bytes), so every view of
// one memory block counts once, even through distinct StorageImpls (two mappings of one tensor).
// Like Python, empty CPU tensors (null data) all share one id. Meta tensors have no data pointer:
// Python gives them no id; we use the StorageImpl, so placeholders that share one stay together.
struct StorageId {
  int device_type;
  int device_index;
  const void* address;
  std::uint64_t nbytes;
  auto operator<=>(const StorageId&) const = default;
};

StorageId storage_id(const at::Tensor& tensor) {
  const c10::Storage& storage = tensor.storage();
  const void* address = tensor.is_meta() ? static_cast<const void*>(storage.unsafeGetStorageImpl()) : storage.data();
  return {static_cast<int>(tensor.device().type()), tensor.device().index(), address, storage.nbytes()};
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
  std::map<StorageId, Keys> keys_of_storage;
  std::vector<StorageId> storage_order;

  for (const auto& item : state_dict) {
    const at::Tensor& tensor = item.value();
    const StorageId storage = storage_id(tensor);
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
  // Tensors that share a storage join the shard of the first of them, appended in storage order
  // (huggingface_hub's second pass).
  std::unordered_map<std::string_view, std::size_t> shard_of_key;
  for (std::size_t i = 0; i < shards.size(); ++i)
    for (const auto& key : shards[i]) shard_of_key.emplace(key, i);
  std::vector<Keys> followers(shards.size());
  for (const StorageId& storage : storage_order) {
    const Keys& keys = keys_of_storage[storage];
    if (keys.size() > 1) {
      auto& into = followers[shard_of_key.at(keys.front())];
      into.insert(into.end(), keys.begin() + 1, keys.end());
    }
  }
  for (std::size_t i = 0; i < shards.size(); ++i)
    shards[i].insert(shards[i].end(), followers[i].begin(), followers[i].end());
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

namespace {

// The module's state_dict() keys and tensors in Python's order: module by module (pre-order), each
// module's own parameters before its own buffers. libtorch's named_parameters() + named_buffers()
// would list every parameter before any buffer.
std::vector<std::pair<std::string, at::Tensor>> module_state(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> state;
  auto add_own = [&](const torch::nn::Module& m, const std::string& prefix) {
    for (const auto& p : m.named_parameters(/*recurse=*/false)) state.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : m.named_buffers(/*recurse=*/false)) state.emplace_back(prefix + b.key(), b.value());
  };
  // The root separately: include_self needs it to live in a shared_ptr, callers may have it on the stack.
  add_own(module, "");
  for (const auto& item : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) add_own(*item.value(), item.key() + ".");
  return state;
}

std::string read_index_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

IncompatibleKeys load_sharded_checkpoint(torch::nn::Module& module, const std::filesystem::path& folder,
                                         bool strict, bool prefer_safe) {
  const auto safe_index = folder / kSafeWeightsIndexName;
  const auto bin_index = folder / kWeightsIndexName;
  const bool have_safe = std::filesystem::is_regular_file(safe_index);
  const bool have_bin = std::filesystem::is_regular_file(bin_index);
  if (!have_safe && !have_bin)
    throw FileError("can't find a checkpoint index (" + std::string(kSafeWeightsIndexName) + " or " +
                    std::string(kWeightsIndexName) + ") in " + folder.string());
  const auto index_path = (have_safe && (prefer_safe || !have_bin)) ? safe_index : bin_index;
  const auto source = open_tensor_source(index_path);
  // Transformers reports unexpected keys in the index's order (the shards agree with it: the
  // source checked every entry); keys a shard holds beyond the index come last.
  const ShardIndex index = parse_shard_index(read_index_text(index_path), index_path.string());

  const auto state = module_state(module);
  std::unordered_map<std::string, at::Tensor> targets;
  for (const auto& [name, tensor] : state) targets.emplace(name, tensor);

  IncompatibleKeys result;
  for (const auto& [name, tensor] : state)
    if (!source->contains(name)) result.missing_keys.push_back(name);
  std::unordered_set<std::string> listed;
  for (const auto& [key, file] : index.weight_map)
    if (listed.insert(key).second && !targets.count(key)) result.unexpected_keys.push_back(key);
  for (const auto& meta : source->tensors())
    if (!listed.count(meta.key) && !targets.count(meta.key)) result.unexpected_keys.push_back(meta.key);
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
  // Shapes are known from the headers: refuse a mismatch before any parameter changes.
  for (const auto& meta : source->tensors()) {
    auto it = targets.find(meta.key);
    if (it != targets.end() && it->second.sizes() != c10::IntArrayRef(meta.shape))
      throw ValueError("size mismatch for " + meta.key + ": the checkpoint " + index_path.string() +
                       " has shape " + c10::str(c10::IntArrayRef(meta.shape)) + ", the module " +
                       c10::str(it->second.sizes()));
  }
  // Shard by shard, in file order: only one shard's pages are touched at a time.
  for (const auto& meta : source->tensors()) {
    auto it = targets.find(meta.key);
    if (it != targets.end()) copy_into(it->second, source->load(meta.key));
  }
  return result;
}

}  // namespace hfcpp
