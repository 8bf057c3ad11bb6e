#include "hfcpp/modeling/convert.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/logging.h"
#include "hfcpp/modeling/sharding.h"
#include "hfcpp/modeling/weights_files.h"
#include "hfcpp/progress.h"

#include "hfcpp/io/torch_bin.h"

namespace hfcpp {
namespace fs = std::filesystem;

namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}
bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_text(const fs::path& path, std::string_view text) {
  FileWriter out(path);
  out.write(text);
  out.close();
}

// "model.safetensors" -> "model{suffix}.safetensors": the shard name pattern save_pretrained uses.
std::string shard_pattern(std::string_view weights_name) {
  std::string name(weights_name);
  const auto dot = name.rfind('.');
  return name.insert(dot, "{suffix}");
}

// A folder inside the destination that receives every new file; publish() renames them into the
// destination (same filesystem, so each rename is atomic), and the destructor removes whatever
// is left, so a failed conversion leaves the destination as it was.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& destination) : destination_(destination) {
    std::random_device random;
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto candidate = destination / (".hfcpp-staging-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
      std::error_code error;
      if (fs::create_directory(candidate, error)) {
        path_ = candidate;
        return;
      }
      if (error) throw FileError("cannot create a staging folder in " + destination.string() + ": " + error.message());
    }
    throw FileError("cannot create a staging folder in " + destination.string());
  }
  ~StagingDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

  fs::path operator/(const std::string& name) const { return path_ / name; }

  void publish(const std::vector<std::string>& names) const {
    for (const auto& name : names) {
      std::error_code error;
      fs::rename(path_ / name, destination_ / name, error);
      if (error)
        throw FileError("cannot move " + name + " into " + destination_.string() + ": " + error.message());
    }
  }

 private:
  fs::path destination_;
  fs::path path_;
};

// One tensor of the output, in source order.
struct OutputTensor {
  const TensorMeta* meta;
  c10::ScalarType dtype;      // after the cast
  std::ptrdiff_t alias_of;    // index of an earlier tensor this one is an exact view of, or -1
};

c10::ScalarType output_dtype(const TensorMeta& meta, const ConvertOptions& options, const TensorSource& source) {
  if (options.torch_dtype && is_floating_point(meta.dtype)) return *options.torch_dtype;
  return to_scalar_type_or_throw(meta.dtype, "tensor '" + meta.key + "' in " + source.origin().string());
}

// Tensors of a .bin that view the same storage with the same offset, shape and strides are one
// tensor under several names (tied weights): they must stay one storage in a .bin and be written
// once in safetensors. Other views of a shared storage are written as tensors of their own.
std::vector<OutputTensor> output_tensors(const TensorSource& source, const ConvertOptions& options) {
  std::vector<OutputTensor> out;
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;  // (file, storage) -> members
  for (const auto& meta : source.tensors()) {
    if (!meta.storage_group.empty()) groups[{meta.file.string(), meta.storage_group}].push_back(out.size());
    out.push_back({&meta, output_dtype(meta, options, source), -1});
  }
  for (const auto& [group, members] : groups) {
    if (members.size() < 2) continue;
    std::vector<at::Tensor> views;  // kept alive together, so they share one at::Storage
    for (std::size_t i : members) views.push_back(source.load(out[i].meta->key));
    for (std::size_t a = 1; a < members.size(); ++a)
      for (std::size_t b = 0; b < a; ++b) {
        const at::Tensor& x = views[a];
        const at::Tensor& y = views[b];
        if (out[members[b]].alias_of < 0 && x.data_ptr() == y.data_ptr() && x.sizes() == y.sizes() &&
            x.strides() == y.strides() && x.scalar_type() == y.scalar_type()) {
          out[members[a]].alias_of = static_cast<std::ptrdiff_t>(members[b]);
          break;
        }
      }
  }
  return out;
}

// Meta tensors standing for the output (no memory): the shard plan needs only sizes and sharing.
StateDict plan_state_dict(const std::vector<OutputTensor>& tensors, bool keep_aliases, ConvertResult& result) {
  StateDict plan;
  std::vector<at::Tensor> placeholders(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    if (t.alias_of >= 0) {
      if (!keep_aliases) {
        result.dropped_aliases.push_back(t.meta->key);
        logging::info("not writing '" + t.meta->key + "': it is the same tensor as '" +
                      tensors[static_cast<std::size_t>(t.alias_of)].meta->key +
                      "' (tied weights), which safetensors stores once");
        continue;
      }
      placeholders[i] = placeholders[static_cast<std::size_t>(t.alias_of)];
    } else {
      placeholders[i] = at::empty(t.meta->shape, at::TensorOptions().dtype(t.dtype).device(at::kMeta));
    }
    plan.insert(t.meta->key, placeholders[i]);
  }
  return plan;
}

at::Tensor load_cast(const TensorSource& source, const OutputTensor& tensor) {
  at::Tensor value = source.load(tensor.meta->key);
  return value.scalar_type() == tensor.dtype ? value : value.to(tensor.dtype);
}

// Writes one safetensors shard streaming: the header is planned from the placeholders, then each
// tensor is read, cast and written in file order, so only one tensor's cast copy exists at a time.
void write_safetensors_shard(const TensorSource& source, const std::vector<std::string>& keys,
                             const StateDict& plan, const std::map<std::string, const OutputTensor*>& by_key,
                             const fs::path& path, ProgressBar& progress) {
  NamedTensors placeholders;
  placeholders.reserve(keys.size());
  for (const auto& key : keys) placeholders.emplace_back(key, plan[key]);
  const SafetensorsLayout layout = plan_safetensors(placeholders, std::map<std::string, std::string>{{"format", "pt"}});
  FileWriter out(path);
  out.write(layout.header);
  for (std::size_t index : layout.order) {
    const at::Tensor value = load_cast(source, *by_key.at(keys[index]));
    out.write_tensor(value);
    progress.advance(static_cast<std::uint64_t>(value.numel()) * value.element_size());
  }
  out.close();
}

void write_torch_bin_shard(const TensorSource& source, const std::vector<std::string>& keys,
                           const std::vector<OutputTensor>& tensors,
                           const std::map<std::string, const OutputTensor*>& by_key, const fs::path& path,
                           ProgressBar& progress) {
  // An alias gets the very tensor of the one it views, so the file keeps one shared storage.
  std::map<const OutputTensor*, at::Tensor> loaded;
  StateDict shard;
  for (const auto& key : keys) {
    const OutputTensor* tensor = by_key.at(key);
    const OutputTensor* owner = tensor->alias_of >= 0 ? &tensors[static_cast<std::size_t>(tensor->alias_of)] : tensor;
    auto it = loaded.find(owner);
    if (it == loaded.end()) {
      it = loaded.emplace(owner, load_cast(source, *owner)).first;
      progress.advance(static_cast<std::uint64_t>(it->second.numel()) * it->second.element_size());
    }
    shard.insert(key, it->second);
  }
  save_torch_bin(shard, path, {.ordered_dict = false, .final_name = {}});  // a plain dict, as save_pretrained writes
}

// Transformers' cleanup after save_pretrained: shards named like ours (<stem>-0000i-of-0000n) that
// this save did not write. Also the single file when we wrote shards and the index when we wrote a
// single file, since from_pretrained would pick those up instead of the new weights. (Transformers
// matches any name that merely starts with the stem, which deletes other variants' shards; we
// match the exact pattern.)
std::vector<std::string> stale_weights(const fs::path& destination, const std::string& weights_name,
                                       const std::string& index_name, const std::set<std::string>& written) {
  const auto dot = weights_name.rfind('.');
  const std::string stem = weights_name.substr(0, dot);
  const std::string extension = weights_name.substr(dot);
  auto is_shard_name = [&](const std::string& name) {
    if (name.size() != stem.size() + 15 + extension.size() || !starts_with(name, stem) || !ends_with(name, extension))
      return false;
    static const std::regex kSuffix(R"(-\d{5}-of-\d{5})");
    return std::regex_match(name.substr(stem.size(), 15), kSuffix);
  };
  std::vector<std::string> stale;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(destination, error)) {
    const std::string name = entry.path().filename().string();
    if (written.count(name) || !entry.is_regular_file()) continue;
    if (is_shard_name(name) || name == weights_name || name == index_name) stale.push_back(name);
  }
  std::sort(stale.begin(), stale.end());
  return stale;
}

// The files of a model folder other than its weights, which a conversion carries along.
std::vector<fs::path> companion_files(const fs::path& folder, const std::set<fs::path>& source_files) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file()) {
      if (entry.is_directory()) logging::info("not copying the folder " + entry.path().string());
      continue;
    }
    if (is_weights_file_name(name) || source_files.count(entry.path())) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code error;
  return fs::equivalent(a, b, error);
}

}  // namespace

bool is_weights_file_name(std::string_view name) {
  if (starts_with(name, "model") && ends_with(name, ".safetensors")) return true;
  if (starts_with(name, "pytorch_model") && ends_with(name, ".bin")) return true;
  if (ends_with(name, ".json") &&
      (name.find(".safetensors.index") != std::string_view::npos || name.find(".bin.index") != std::string_view::npos))
    return true;
  return name == "tf_model.h5" || name == "flax_model.msgpack" || ends_with(name, ".h5.index.json") ||
         ends_with(name, ".msgpack.index.json");
}

fs::path resolve_weights_path(const fs::path& path, std::string_view variant) {
  std::error_code error;
  if (!fs::exists(path, error)) throw FileError(path.string() + " does not exist");
  if (!fs::is_directory(path, error)) return path;
  WeightsLookup lookup;
  lookup.variant = std::string(variant);
  return resolve_weights(path, lookup);
}

std::string config_json_with_torch_dtype(std::string_view config_json, c10::ScalarType torch_dtype,
                                         std::string_view label) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(config_json);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string(label) + ": not valid JSON (" + e.what() + ")");
  }
  if (!config.is_object()) throw FormatError(std::string(label) + ": a config must be a JSON object");
  config["torch_dtype"] = torch_dtype_name(torch_dtype);
  return python_json_dumps(config) + "\n";
}

ConvertResult convert_checkpoint(const fs::path& source_path, const fs::path& destination,
                                 const ConvertOptions& options) {
  if (options.max_shard_size == 0) throw ValueError("max_shard_size must be at least one byte");
  ConvertResult result;
  result.source = resolve_weights_path(source_path, options.source_variant);
  const bool from_folder = fs::is_directory(source_path);

  std::error_code error;
  if (fs::exists(destination, error) && !fs::is_directory(destination, error))
    throw FileError(destination.string() + " exists and is not a folder");
  if (same_folder(destination, result.source.parent_path()) || (from_folder && same_folder(destination, source_path)))
    throw ValueError("the destination " + destination.string() +
                     " is the folder of the source weights; convert into another folder");

  const auto source = open_tensor_source(result.source);
  if (auto format = source->metadata().find("format"); format != source->metadata().end() && format->second != "pt")
    logging::warning(result.source.string() + " says its tensors are in format '" + format->second +
                     "'; they are written as PyTorch ('pt') tensors under the same names");

  const bool safetensors = options.format == CheckpointFormat::kSafetensors;
  const std::string weights_name = add_variant(safetensors ? kSafeWeightsName : kWeightsName, options.variant);
  const std::string index_name = add_variant(safetensors ? kSafeWeightsIndexName : kWeightsIndexName, options.variant);

  const std::vector<OutputTensor> tensors = output_tensors(*source, options);
  const StateDict plan_dict = plan_state_dict(tensors, /*keep_aliases=*/!safetensors, result);
  const ShardPlan plan = split_state_dict_into_shards(plan_dict, options.max_shard_size, shard_pattern(weights_name));
  std::map<std::string, const OutputTensor*> by_key;
  for (const auto& t : tensors) by_key.emplace(t.meta->key, &t);

  fs::create_directories(destination);
  StagingDir staging(destination);
  std::vector<std::string> staged;

  ProgressBar progress("writing " + weights_name, plan.total_size);
  for (const auto& [file, keys] : plan.shards) {
    if (plan.is_sharded()) progress.set_label("writing " + file);
    if (safetensors) write_safetensors_shard(*source, keys, plan_dict, by_key, staging / file, progress);
    else write_torch_bin_shard(*source, keys, tensors, by_key, staging / file, progress);
    logging::info("wrote " + file + " (" + std::to_string(keys.size()) + " tensors)");
    staged.push_back(file);
    result.weights_files.push_back(file);
    result.tensor_count += keys.size();
  }
  if (plan.is_sharded()) {
    write_text(staging / index_name, shard_index_json(plan));
    staged.push_back(index_name);
    result.index_file = index_name;
  }
  result.total_size = plan.total_size;

  if (from_folder) {
    std::set<fs::path> source_files(source->files().begin(), source->files().end());
    source_files.insert(result.source);
    for (const auto& file : companion_files(source_path, source_files)) {
      const std::string name = file.filename().string();
      if (name == "config.json" && options.torch_dtype)
        write_text(staging / name, config_json_with_torch_dtype(read_text(file), *options.torch_dtype, file.string()));
      else if (!fs::copy_file(file, staging / name, error))
        throw FileError("cannot copy " + file.string() + " to " + destination.string() + ": " + error.message());
      staged.push_back(name);
      result.copied_files.push_back(name);
    }
  }
  progress.finish();

  staging.publish(staged);
  const std::set<std::string> written(staged.begin(), staged.end());
  for (const auto& name : stale_weights(destination, weights_name, index_name, written)) {
    fs::remove(destination / name, error);
    if (error) throw FileError("cannot remove the stale " + (destination / name).string() + ": " + error.message());
    logging::info("removed " + name + ", left by an earlier save");
    result.removed_files.push_back(name);
  }
  return result;
}

}  // namespace hfcpp
