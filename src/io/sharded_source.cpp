#include <fstream>
#include <sstream>

#include "hfcpp/error.h"
#include "tensor_sources.h"

namespace hfcpp::detail {
namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool is_weights_file(const std::string& name) {
  for (std::string_view extension : {".safetensors", ".bin", ".pt", ".pth", ".ckpt"})
    if (name.size() > extension.size() && name.compare(name.size() - extension.size(), extension.size(), extension) == 0)
      return true;
  return false;
}

// Runs `open` and prefixes the message of any hfcpp error with the index, keeping the error type:
// a corrupt shard is reported as part of the checkpoint the user asked for.
template <typename Open>
auto with_index_context(const std::filesystem::path& index_path, Open&& open) {
  const std::string prefix = index_path.string() + ": ";
  try {
    return open();
  } catch (const FormatError& e) {
    throw FormatError(prefix + e.what());
  } catch (const FileError& e) {
    throw FileError(prefix + e.what());
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(prefix + e.what());
  } catch (const ValueError& e) {
    throw ValueError(prefix + e.what());
  } catch (const KeyError& e) {
    throw KeyError(prefix + e.what());
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
}

// One logical key space over the shards of an index; each shard is opened (headers only) once.
class ShardedSource final : public TensorSource {
 public:
  explicit ShardedSource(const std::filesystem::path& index_path)
      : TensorSource(CheckpointFormat::kSafetensors, index_path) {
    const ShardIndex index = parse_shard_index(read_text(index_path), index_path.string());
    const auto folder = index_path.parent_path();
    const auto shard_names = index.shard_files();
    if (shard_names.empty()) throw FormatError(index_path.string() + ": the weight_map is empty");

    std::unordered_map<std::string, std::size_t> shard_of_file;
    for (const auto& name : shard_names) {
      const auto path = folder / name;
      if (!is_weights_file(name))
        throw FormatError(index_path.string() + " lists " + name +
                          " as a shard; shards must be weights files (*.safetensors, *.bin)");
      if (!std::filesystem::is_regular_file(path))
        throw FileError(index_path.string() + " lists the shard " + name + ", which does not exist in " +
                        folder.string() + " (or is not a file)");
      shard_of_file.emplace(name, shards_.size());
      shards_.push_back(with_index_context(index_path, [&] { return open_tensor_source(path); }));
      if (shards_.back()->format() != shards_.front()->format())
        throw FormatError(index_path.string() + ": shards mix safetensors and PyTorch files");
      files_.push_back(path);
    }
    format_ = shards_.front()->format();
    metadata_ = shards_.front()->metadata();

    for (const auto& [key, file] : index.weight_map) {
      if (!shards_[shard_of_file.at(file)]->contains(key))
        throw FormatError(index_path.string() + " says '" + key + "' is in " + file +
                          ", but that file has no such tensor");
    }
    // The shards' contents are the truth (Transformers loads whole shards), grouped by shard.
    for (std::size_t s = 0; s < shards_.size(); ++s)
      for (const auto& meta : shards_[s]->tensors()) {
        add(meta);
        shard_of_key_.emplace(meta.key, s);
      }
  }

  at::Tensor load(std::string_view key) const override {
    auto it = shard_of_key_.find(std::string(key));
    if (it == shard_of_key_.end()) throw_missing(key);
    return shards_[it->second]->load(key);
  }

 private:
  std::vector<std::unique_ptr<TensorSource>> shards_;
  std::unordered_map<std::string, std::size_t> shard_of_key_;
};

}  // namespace

std::unique_ptr<TensorSource> open_sharded_source(const std::filesystem::path& index_path) {
  return std::make_unique<ShardedSource>(index_path);
}

}  // namespace hfcpp::detail
