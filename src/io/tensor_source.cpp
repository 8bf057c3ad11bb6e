#include "hfcpp/io/tensor_source.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "hfcpp/error.h"
#include "tensor_sources.h"

namespace hfcpp {

std::string_view format_name(CheckpointFormat format) {
  return format == CheckpointFormat::kSafetensors ? "safetensors" : "pytorch";
}

std::int64_t TensorMeta::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const TensorMeta* TensorSource::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void TensorSource::add(TensorMeta meta) {
  auto [it, inserted] = index_.emplace(meta.key, tensors_.size());
  if (!inserted)
    throw FormatError(origin_.string() + ": tensor '" + meta.key + "' is stored twice (in " +
                      tensors_[it->second].file.filename().string() + " and " +
                      meta.file.filename().string() + ")");
  tensors_.push_back(std::move(meta));
}

void TensorSource::throw_missing(std::string_view key) const {
  throw KeyError(origin_.string() + ": no tensor named '" + std::string(key) + "'");
}

at::Tensor TensorSource::load(std::string_view key, std::optional<c10::ScalarType> dtype,
                              c10::Device device) const {
  at::Tensor tensor = load(key);
  if ((dtype && *dtype != tensor.scalar_type()) || device != tensor.device())
    tensor = tensor.to(device, dtype.value_or(tensor.scalar_type()));
  return tensor;
}

std::uint64_t TensorSource::total_bytes() const {
  std::uint64_t total = 0;
  std::set<std::pair<std::string, std::string>> seen_groups;
  for (const auto& meta : tensors_) {
    if (!meta.storage_group.empty() && !seen_groups.emplace(meta.file.string(), meta.storage_group).second)
      continue;
    total += meta.nbytes;
  }
  return total;
}

std::vector<std::string> ShardIndex::shard_files() const {
  std::set<std::string> files;
  for (const auto& [key, file] : weight_map) files.insert(file);
  return {files.begin(), files.end()};
}

ShardIndex parse_shard_index(std::string_view json_text, std::string_view label) {
  const std::string where(label);
  nlohmann::ordered_json root;
  try {
    root = nlohmann::ordered_json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) throw FormatError(where + ": a shard index must be a JSON object");
  ShardIndex index;
  if (auto meta = root.find("metadata"); meta != root.end() && meta->is_object()) {
    if (auto total = meta->find("total_size"); total != meta->end()) {
      if (total->is_number_unsigned()) index.total_size = total->get<std::uint64_t>();
      else if (total->is_number_integer() && total->get<std::int64_t>() >= 0) index.total_size = total->get<std::uint64_t>();
      // A float (some writers emit 1.0e9): only within uint64's range, since converting anything
      // beyond it is undefined (found by fuzzing).
      else if (total->is_number_float() && total->get<double>() >= 0 && total->get<double>() < 0x1p64)
        index.total_size = static_cast<std::uint64_t>(total->get<double>());
      else throw FormatError(where + ": metadata.total_size must be a non-negative number");
    }
  }
  auto map = root.find("weight_map");
  if (map == root.end() || !map->is_object())
    throw FormatError(where + ": no \"weight_map\" object mapping tensor names to shard files");
  for (const auto& [key, value] : map->items()) {
    if (!value.is_string())
      throw FormatError(where + ": weight_map entry '" + key + "' must be a file name string");
    const std::string& file = value.get_ref<const std::string&>();
    const bool plain = !file.empty() && file != "." && file != ".." &&
                       file.find('/') == std::string::npos && file.find('\\') == std::string::npos &&
                       file.find('\0') == std::string::npos;
    if (!plain)
      throw FormatError(where + ": weight_map entry '" + key + "' names the file '" + file +
                        "'; shard files must be plain names inside the checkpoint folder");
    index.weight_map.emplace_back(key, file);
  }
  return index;
}

std::unique_ptr<TensorSource> open_tensor_source(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  // "model.safetensors.index.json", or with a variant "model.safetensors.index.fp16.json".
  if (ends_with(".json") && name.find(".index.") != std::string::npos) return detail::open_sharded_source(path);
  if (ends_with(".safetensors")) return detail::open_safetensors_source(path);
  if (ends_with(".bin") || ends_with(".pt") || ends_with(".pth") || ends_with(".ckpt"))
    return detail::open_torch_bin_source(path);
  throw ValueError("cannot tell the format of " + path.string() +
                   ": expected *.safetensors, *.bin (PyTorch) or *.index.json (sharded)");
}

}  // namespace hfcpp
