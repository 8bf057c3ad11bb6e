// Writing torch.save-compatible checkpoints: the same archive layout, record order and pickle
// bytes torch 1.13 writes for an OrderedDict of tensors.
#include <ATen/ATen.h>

#include <algorithm>
#include <unordered_map>

#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "hfcpp/io/torch_bin.h"
#include "hfcpp/io/zip.h"
#include "pickle_writer.h"

namespace hfcpp {
namespace {

// torch.save's record format version.
constexpr std::string_view kVersion = "3\n";
// torch.save writes at most this many items per SETITEMS (Python's pickle batch size).
constexpr std::size_t kBatchSize = 1000;

std::string_view storage_class(c10::ScalarType type, const std::string& name) {
  switch (type) {
    case c10::ScalarType::Float: return "FloatStorage";
    case c10::ScalarType::Double: return "DoubleStorage";
    case c10::ScalarType::Half: return "HalfStorage";
    case c10::ScalarType::BFloat16: return "BFloat16Storage";
    case c10::ScalarType::Long: return "LongStorage";
    case c10::ScalarType::Int: return "IntStorage";
    case c10::ScalarType::Short: return "ShortStorage";
    case c10::ScalarType::Char: return "CharStorage";
    case c10::ScalarType::Byte: return "ByteStorage";
    case c10::ScalarType::Bool: return "BoolStorage";
    default:
      throw UnsupportedError("tensor '" + name + "' has dtype " + c10::toString(type) +
                             ", which a checkpoint cannot store");
  }
}

// One storage to write: the first tensor seen on it decides its dtype.
struct StorageToWrite {
  std::string key;
  c10::Storage storage;
  c10::ScalarType dtype;
  std::string first_tensor;
};

class StateDictPickler {
 public:
  void save(const StateDict& state_dict, bool ordered_dict) {
    if (ordered_dict) {
      p_.global("collections", "OrderedDict");
      p_.put("global collections.OrderedDict");
      p_.empty_tuple();
      p_.reduce();
    } else {
      p_.empty_dict();
    }
    p_.put_new();
    const auto& items = state_dict.items();
    for (std::size_t start = 0; start < items.size(); start += kBatchSize) {
      const std::size_t count = std::min(kBatchSize, items.size() - start);
      if (count > 1) p_.mark();
      for (std::size_t i = start; i < start + count; ++i) save_item(items[i].key(), items[i].value());
      if (count > 1) p_.setitems();
      else p_.setitem();
    }
  }

  std::string finish() { return p_.finish(); }
  std::vector<StorageToWrite>& storages() { return storages_; }

 private:
  void string_constant(std::string_view text) {
    const std::string identity = "str " + std::string(text);
    if (!p_.get(identity)) {
      p_.unicode(text);
      p_.put(identity);
    }
  }
  void global_constant(std::string_view module, std::string_view name) {
    const std::string identity = "global " + std::string(module) + "." + std::string(name);
    if (!p_.get(identity)) {
      p_.global(module, name);
      p_.put(identity);
    }
  }
  void int_tuple(c10::IntArrayRef values) {
    if (values.empty()) return p_.empty_tuple();
    p_.begin_tuple(values.size());
    for (auto v : values) p_.integer(v);
    p_.end_tuple(values.size());
  }

  const StorageToWrite& storage_of(const std::string& name, const at::Tensor& tensor) {
    if (!tensor.defined()) throw ValueError("tensor '" + name + "' is undefined and cannot be saved");
    if (tensor.is_meta() || !tensor.has_storage())
      throw ValueError("tensor '" + name + "' has no data (meta or sparse) and cannot be saved");
    const c10::Storage& storage = tensor.storage();
    auto [it, inserted] = by_impl_.try_emplace(storage.unsafeGetStorageImpl(), storages_.size());
    if (inserted) {
      storages_.push_back({std::to_string(storages_.size()), storage, tensor.scalar_type(), name});
      const std::size_t element = tensor.element_size();
      if (storage.nbytes() % element != 0)
        throw ValueError("tensor '" + name + "': its storage of " + std::to_string(storage.nbytes()) +
                         " bytes is not a whole number of " + c10::toString(tensor.scalar_type()) +
                         " elements");
    }
    const StorageToWrite& out = storages_[it->second];
    if (out.dtype != tensor.scalar_type())
      throw ValueError("tensors '" + out.first_tensor + "' (" + c10::toString(out.dtype) + ") and '" +
                       name + "' (" + c10::toString(tensor.scalar_type()) +
                       ") share one storage with different dtypes, which torch.save cannot write either");
    return out;
  }

  void save_item(const std::string& name, const at::Tensor& tensor) {
    const StorageToWrite& storage = storage_of(name, tensor);
    const auto numel = static_cast<std::int64_t>(storage.storage.nbytes() / tensor.element_size());
    p_.unicode(name);
    p_.put_new();
    global_constant("torch._utils", "_rebuild_tensor_v2");
    p_.begin_tuple(6);
    p_.begin_tuple(5);  // the persistent id: ('storage', type, key, location, numel)
    string_constant("storage");
    global_constant("torch", storage_class(storage.dtype, name));
    string_constant(storage.key);
    string_constant("cpu");
    p_.integer(numel);
    p_.end_tuple(5);
    p_.persistent_id();
    p_.integer(tensor.storage_offset());
    int_tuple(tensor.sizes());
    int_tuple(tensor.strides());
    p_.boolean(false);  // requires_grad: a state dict holds detached tensors
    global_constant("collections", "OrderedDict");  // backward hooks: an empty OrderedDict
    p_.empty_tuple();
    p_.reduce();
    p_.put_new();
    p_.end_tuple(6);
    p_.reduce();
    p_.put_new();
  }

  pickle::PickleWriter p_;
  std::vector<StorageToWrite> storages_;
  std::unordered_map<const c10::StorageImpl*, std::size_t> by_impl_;
};

// The whole storage as CPU bytes (a copy only for tensors on other devices).
at::Tensor storage_bytes(const StorageToWrite& s) {
  const auto element = static_cast<std::int64_t>(c10::elementSize(s.dtype));
  const auto numel = static_cast<std::int64_t>(s.storage.nbytes()) / element;
  at::Tensor flat = at::empty({0}, at::TensorOptions().dtype(s.dtype).device(s.storage.device()))
                        .set_(s.storage, 0, {numel}, {1});
  return contiguous_cpu(flat);
}

std::string archive_prefix(const std::filesystem::path& path) {
  // torch names the top folder after the file name without its last extension.
  std::string stem = path.filename().string();
  if (const auto dot = stem.rfind('.'); dot != std::string::npos) stem.resize(dot);
  return stem.empty() ? "archive" : stem;
}

}  // namespace

void save_torch_bin(const StateDict& state_dict, const std::filesystem::path& path,
                    const TorchBinSaveOptions& options) {
  StateDictPickler pickler;
  pickler.save(state_dict, options.ordered_dict);
  const std::string pickle = pickler.finish();

  // Records in torch's order: data.pkl, the storages sorted by key as strings, then version.
  auto& storages = pickler.storages();
  std::sort(storages.begin(), storages.end(),
            [](const StorageToWrite& a, const StorageToWrite& b) { return a.key < b.key; });
  const std::string prefix = archive_prefix(options.final_name.empty() ? path : options.final_name);
  FileWriter out(path);
  ZipWriter zip(out, options.zip64);
  zip.add(prefix + "/data.pkl", pickle);
  for (const StorageToWrite& storage : storages) {
    const at::Tensor bytes = storage_bytes(storage);
    zip.add(prefix + "/data/" + storage.key,
            {static_cast<const std::uint8_t*>(bytes.data_ptr()), static_cast<std::size_t>(bytes.nbytes())});
  }
  zip.add(prefix + "/version", kVersion);
  zip.finish();
  out.close();
}

}  // namespace hfcpp
