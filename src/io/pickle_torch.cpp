// The torch.load(weights_only=True) allow-list on top of the pickle machine: which globals a
// checkpoint may name, what the rebuild functions and persistent ids mean, and the conversion of
// the resulting {name: tensor} dict into TorchBinEntry / TorchBinStorage records.
#include <c10/core/ScalarType.h>

#include <array>
#include <unordered_map>

#include "hfcpp/error.h"
#include "hfcpp/io/torch_bin.h"
#include "pickle_machine.h"

namespace hfcpp {
namespace {

using pickle::Kind;
using pickle::Object;
using pickle::Unpickler;

// Far beyond any real tensor; bounds the work one rebuild call may do.
constexpr std::size_t kMaxRank = 64;

enum GlobalId : std::int64_t {
  kOrderedDict,
  kRebuildTensor,
  kRebuildTensorV2,
  kRebuildTensorV3,
  kRebuildParameter,
  kRebuildParameterWithState,
  kRebuildFromTypeV2,
  kTorchSize,
  kTensorClass,  // torch.Tensor / torch.nn.parameter.Parameter, as _rebuild_from_type_v2's type
  kStorageType,  // tag: the element type
  kDType,        // tag: the dtype
};

struct GlobalInfo {
  GlobalId id;
  c10::ScalarType type = c10::ScalarType::Undefined;
};

const std::unordered_map<std::string, GlobalInfo>& allowed_globals() {
  static const auto table = [] {
    using c10::ScalarType;
    std::unordered_map<std::string, GlobalInfo> t{
        {"collections.OrderedDict", {kOrderedDict}},
        {"torch._utils._rebuild_tensor", {kRebuildTensor}},
        {"torch._utils._rebuild_tensor_v2", {kRebuildTensorV2}},
        {"torch._utils._rebuild_tensor_v3", {kRebuildTensorV3}},
        {"torch._utils._rebuild_parameter", {kRebuildParameter}},
        {"torch._utils._rebuild_parameter_with_state", {kRebuildParameterWithState}},
        {"torch._tensor._rebuild_from_type_v2", {kRebuildFromTypeV2}},
        {"torch.Size", {kTorchSize}},
        {"torch.Tensor", {kTensorClass}},
        {"torch.nn.parameter.Parameter", {kTensorClass}},
    };
    const std::pair<const char*, ScalarType> storages[] = {
        {"Float", ScalarType::Float}, {"Double", ScalarType::Double}, {"Half", ScalarType::Half},
        {"BFloat16", ScalarType::BFloat16}, {"Long", ScalarType::Long}, {"Int", ScalarType::Int},
        {"Short", ScalarType::Short}, {"Char", ScalarType::Char}, {"Byte", ScalarType::Byte},
        {"Bool", ScalarType::Bool},
    };
    for (const auto& [prefix, type] : storages)
      t.emplace(std::string("torch.") + prefix + "Storage", GlobalInfo{kStorageType, type});
    // Untyped storages (torch >= 1.13 / 2.x) hold bytes; tensors give their dtype separately.
    for (const char* name : {"torch.UntypedStorage", "torch._UntypedStorage",
                             "torch.storage.UntypedStorage", "torch.storage._UntypedStorage"})
      t.emplace(name, GlobalInfo{kStorageType, ScalarType::Byte});
    const std::pair<const char*, ScalarType> dtypes[] = {
        {"float32", ScalarType::Float}, {"float", ScalarType::Float},
        {"float64", ScalarType::Double}, {"double", ScalarType::Double},
        {"float16", ScalarType::Half}, {"half", ScalarType::Half},
        {"bfloat16", ScalarType::BFloat16}, {"int64", ScalarType::Long},
        {"long", ScalarType::Long}, {"int32", ScalarType::Int}, {"int", ScalarType::Int},
        {"int16", ScalarType::Short}, {"short", ScalarType::Short}, {"int8", ScalarType::Char},
        {"uint8", ScalarType::Byte}, {"bool", ScalarType::Bool},
    };
    for (const auto& [name, type] : dtypes)
      t.emplace(std::string("torch.") + name, GlobalInfo{kDType, type});
    return t;
  }();
  return table;
}

enum NativeTag : std::int64_t { kStorageRef, kTensor };

// A persistent id resolved: a storage, or (legacy views) a window of one, in bytes.
struct StorageRef {
  std::size_t storage;
  std::uint64_t begin;
  std::uint64_t end;
};

struct PendingStorage {
  std::string key;
  c10::ScalarType dtype;
  std::int64_t numel;
  std::uint64_t nbytes;
};

std::string str(Kind kind) { return std::string(pickle::kind_name(kind)); }

class TorchHooks final : public pickle::Hooks {
 public:
  std::vector<PendingStorage> storages;
  std::vector<TorchBinEntry> tensors;  // name empty until placed in the dict

  Object* global(Unpickler& u, std::string_view module, std::string_view name) override {
    const std::string full = std::string(module) + "." + std::string(name);
    const auto& table = allowed_globals();
    auto it = table.find(full);
    if (it == table.end()) return Hooks::global(u, module, name);
    Object* object = u.make(Kind::kGlobal);
    object->integer = it->second.id;
    object->tag = static_cast<std::int64_t>(it->second.type);
    u.charge(full.size());
    object->text = full;
    return object;
  }

  Object* call(Unpickler& u, Object* callable, Object* args) override {
    if (callable->kind != Kind::kGlobal)
      u.fail("REDUCE on a " + str(callable->kind) + ", which is not callable");
    const auto& a = args->items;
    auto arity = [&](std::size_t min, std::size_t max) {
      if (a.size() >= min && a.size() <= max) return;
      std::string expected = std::to_string(min);
      if (max != min) expected += " to " + std::to_string(max);
      u.fail(callable->text + " takes " + expected + " arguments, got " + std::to_string(a.size()));
    };
    switch (static_cast<GlobalId>(callable->integer)) {
      case kOrderedDict:
        arity(0, 0);
        return u.make(Kind::kDict);
      case kRebuildTensor:
        arity(4, 4);
        return rebuild_tensor(u, a[0], a[1], a[2], a[3], std::nullopt);
      case kRebuildTensorV2:
        // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
        arity(6, 7);
        expect(u, a[4], Kind::kBool, "requires_grad");
        return rebuild_tensor(u, a[0], a[1], a[2], a[3], std::nullopt);
      case kRebuildTensorV3: {
        // (untyped storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
        arity(7, 8);
        expect(u, a[4], Kind::kBool, "requires_grad");
        if (a[6]->kind != Kind::kGlobal || a[6]->integer != kDType)
          u.fail("_rebuild_tensor_v3's dtype argument is not a torch dtype");
        return rebuild_tensor(u, a[0], a[1], a[2], a[3], static_cast<c10::ScalarType>(a[6]->tag));
      }
      case kRebuildParameter:
      case kRebuildParameterWithState:
        // (data, requires_grad, backward_hooks[, state]): the data is the tensor we keep.
        if (callable->integer == kRebuildParameter) arity(3, 3);
        else arity(4, 4);
        expect_tensor(u, a[0], "parameter data");
        return a[0];
      case kRebuildFromTypeV2: {
        // (func, new_type, args, state): a tensor (sub)class rebuilt by one of the functions
        // above; nesting it inside itself is refused, which also bounds recursion.
        arity(4, 4);
        if (a[0]->kind != Kind::kGlobal || a[0]->integer == kRebuildFromTypeV2 ||
            a[0]->integer == kOrderedDict || a[0]->integer == kTorchSize)
          u.fail("_rebuild_from_type_v2 must wrap a tensor rebuild function");
        if (a[1]->kind != Kind::kGlobal || a[1]->integer != kTensorClass)
          u.fail("_rebuild_from_type_v2 may only rebuild torch.Tensor or Parameter");
        expect(u, a[2], Kind::kTuple, "_rebuild_from_type_v2 arguments");
        Object* result = call(u, a[0], a[2]);
        expect_tensor(u, result, "_rebuild_from_type_v2 result");
        return result;
      }
      case kTorchSize:
        arity(1, 1);
        expect(u, a[0], Kind::kTuple, "torch.Size argument");
        return a[0];
      default:
        u.fail(callable->text + " is not callable");
    }
  }

  Object* persistent_load(Unpickler& u, Object* pid) override {
    // ('storage', storage_type, key, location, numel[, view_metadata])
    if (pid->kind != Kind::kTuple || pid->items.size() < 5 || pid->items.size() > 6 ||
        pid->items[0]->kind != Kind::kString || pid->items[0]->text != "storage")
      u.fail("unsupported persistent id: expected ('storage', type, key, location, numel)");
    const auto& p = pid->items;
    if (p[1]->kind != Kind::kGlobal || p[1]->integer != kStorageType)
      u.fail("persistent id's storage type is not a torch storage class");
    expect(u, p[2], Kind::kString, "storage key");
    if (p[3]->kind != Kind::kString && p[3]->kind != Kind::kBytes)
      u.fail("storage location is a " + str(p[3]->kind) + ", not a string");
    const std::int64_t numel = non_negative(u, p[4], "storage size");
    const auto dtype = static_cast<c10::ScalarType>(p[1]->tag);
    const std::size_t index = find_or_add_storage(u, p[2]->text, dtype, numel);

    StorageRef ref{index, 0, storages[index].nbytes};
    if (p.size() == 6 && p[5]->kind != Kind::kNone) {
      // Legacy storage views: (view_key, offset, size) in elements of the root storage.
      const Object* view = p[5];
      if (view->kind != Kind::kTuple || view->items.size() != 3)
        u.fail("storage view metadata must be (key, offset, size)");
      const auto element = static_cast<std::uint64_t>(c10::elementSize(dtype));
      const auto offset = static_cast<std::uint64_t>(non_negative(u, view->items[1], "view offset"));
      const auto size = static_cast<std::uint64_t>(non_negative(u, view->items[2], "view size"));
      std::uint64_t begin = 0, length = 0;
      if (__builtin_mul_overflow(offset, element, &begin) ||
          __builtin_mul_overflow(size, element, &length) || begin > ref.end || length > ref.end - begin)
        u.fail("storage view [" + std::to_string(offset) + ", +" + std::to_string(size) +
               ") lies outside storage '" + p[2]->text + "' of " + std::to_string(numel) + " elements");
      ref = {index, begin, begin + length};
    }
    refs_.push_back(ref);
    Object* object = u.make(Kind::kNative);
    object->tag = kStorageRef;
    object->integer = static_cast<std::int64_t>(refs_.size() - 1);
    return object;
  }

  void build(Unpickler& u, Object* target, Object* state) override {
    // A Parameter's Python attributes: nothing a state dict needs.
    if (is_tensor(target) && state->kind == Kind::kDict) return;
    Hooks::build(u, target, state);
  }

  static bool is_tensor(const Object* object) {
    return object->kind == Kind::kNative && object->tag == kTensor;
  }

 private:
  std::vector<StorageRef> refs_;
  std::unordered_map<std::string, std::size_t> storage_index_;

  static void expect(Unpickler& u, const Object* object, Kind kind, const char* what) {
    if (object->kind != kind)
      u.fail(std::string(what) + " is a " + str(object->kind) + ", expected a " + str(kind));
  }
  static void expect_tensor(Unpickler& u, const Object* object, const char* what) {
    if (!is_tensor(object)) u.fail(std::string(what) + " is a " + str(object->kind) + ", not a tensor");
  }
  static std::int64_t non_negative(Unpickler& u, const Object* object, const std::string& what) {
    if (object->kind != Kind::kInt || object->integer < 0)
      u.fail(what + " must be a non-negative integer that fits in 64 bits");
    return object->integer;
  }

  std::size_t find_or_add_storage(Unpickler& u, const std::string& key, c10::ScalarType dtype,
                                  std::int64_t numel) {
    auto [it, inserted] = storage_index_.try_emplace(key, storages.size());
    if (!inserted) {
      const PendingStorage& known = storages[it->second];
      if (known.dtype != dtype || known.numel != numel)
        u.fail("storage '" + pickle::printable(key) + "' is referenced as " +
               std::to_string(numel) + " " + c10::toString(dtype) + " elements but earlier as " +
               std::to_string(known.numel) + " " + c10::toString(known.dtype));
      return it->second;
    }
    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(numel), c10::elementSize(dtype), &nbytes) ||
        nbytes > static_cast<std::uint64_t>(INT64_MAX))
      u.fail("storage '" + pickle::printable(key) + "' size overflows");
    u.charge(key.size() + sizeof(PendingStorage) + 64);
    storages.push_back({key, dtype, numel, nbytes});
    return storages.size() - 1;
  }

  std::vector<std::int64_t> dims(Unpickler& u, const Object* tuple, const char* what) {
    expect(u, tuple, Kind::kTuple, what);
    if (tuple->items.size() > kMaxRank)
      u.fail(std::string(what) + " has " + std::to_string(tuple->items.size()) +
             " dimensions, more than " + std::to_string(kMaxRank));
    std::vector<std::int64_t> out;
    out.reserve(tuple->items.size());
    for (const Object* d : tuple->items) out.push_back(non_negative(u, d, what));
    return out;
  }

  Object* rebuild_tensor(Unpickler& u, const Object* storage, const Object* offset_object,
                         const Object* size_object, const Object* stride_object,
                         std::optional<c10::ScalarType> dtype_override) {
    if (storage->kind != Kind::kNative || storage->tag != kStorageRef)
      u.fail("tensor rebuilt from a " + str(storage->kind) + " instead of a storage");
    const StorageRef ref = refs_[static_cast<std::size_t>(storage->integer)];
    const PendingStorage& s = storages[ref.storage];
    TorchBinEntry entry;
    entry.dtype = dtype_override.value_or(s.dtype);
    entry.shape = dims(u, size_object, "tensor size");
    entry.stride = dims(u, stride_object, "tensor stride");
    if (entry.shape.size() != entry.stride.size())
      u.fail("tensor size has " + std::to_string(entry.shape.size()) + " dimensions but stride " +
             std::to_string(entry.stride.size()));
    const std::int64_t offset = non_negative(u, offset_object, "storage offset");
    const auto element = static_cast<std::uint64_t>(c10::elementSize(entry.dtype));
    if (ref.begin % element != 0)
      u.fail("storage '" + pickle::printable(s.key) + "' view is not aligned to the tensor's elements");

    // Last element reached: offset + sum((size - 1) * stride), all overflow-checked; it must
    // lie inside the storage (or view), so no tensor can read past its bytes.
    std::uint64_t numel = 1, last = static_cast<std::uint64_t>(offset);
    bool overflow = false;
    for (std::size_t d = 0; d < entry.shape.size(); ++d) {
      const auto size = static_cast<std::uint64_t>(entry.shape[d]);
      std::uint64_t step = 0;
      overflow |= __builtin_mul_overflow(numel, size, &numel);
      if (size > 0) {
        overflow |= __builtin_mul_overflow(size - 1, static_cast<std::uint64_t>(entry.stride[d]), &step);
        overflow |= __builtin_add_overflow(last, step, &last);
      }
    }
    std::uint64_t tensor_bytes = 0, end_bytes = 0, begin_bytes = 0;
    overflow |= __builtin_mul_overflow(numel, element, &tensor_bytes);
    overflow |= tensor_bytes > static_cast<std::uint64_t>(INT64_MAX);
    overflow |= __builtin_mul_overflow(static_cast<std::uint64_t>(offset), element, &begin_bytes);
    if (numel > 0) {
      overflow |= __builtin_add_overflow(last, std::uint64_t{1}, &last);
      overflow |= __builtin_mul_overflow(last, element, &end_bytes);
    }
    if (overflow)
      u.fail("tensor of storage '" + pickle::printable(s.key) + "' has a size, stride or offset that overflows");
    if (begin_bytes > ref.end - ref.begin)
      u.fail("tensor starts at byte " + std::to_string(begin_bytes) + " of storage '" +
             pickle::printable(s.key) + "', which has only " + std::to_string(ref.end - ref.begin) +
             " bytes");
    if (numel > 0 && end_bytes > ref.end - ref.begin)
      u.fail("tensor reaches byte " + std::to_string(end_bytes) + " of storage '" +
             pickle::printable(s.key) + "', which has only " + std::to_string(ref.end - ref.begin) +
             " bytes (offset " + std::to_string(offset) + ", shape and stride beyond the storage)");
    entry.storage_offset = static_cast<std::int64_t>(ref.begin / element) + offset;
    entry.storage_key = s.key;
    entry.storage_index = ref.storage;

    u.charge(sizeof(TorchBinEntry) + 16 * entry.shape.size() + s.key.size());
    tensors.push_back(std::move(entry));
    Object* object = u.make(Kind::kNative);
    object->tag = kTensor;
    object->integer = static_cast<std::int64_t>(tensors.size() - 1);
    return object;
  }
};

// The top-level {name: tensor} dict into entries, and the storages they use in first-use order.
TorchPickle collect(Unpickler& u, const Object* root, TorchHooks& hooks) {
  if (root->kind != Kind::kDict)
    u.fail("the checkpoint holds a " + str(root->kind) + ", not a {name: tensor} state dict");
  TorchPickle out;
  out.entries.reserve(root->dict_size());
  std::vector<std::size_t> storage_position(hooks.storages.size(), SIZE_MAX);
  for (std::size_t i = 0; i < root->items.size(); i += 2) {
    const Object* key = root->items[i];
    const Object* value = root->items[i + 1];
    if (key->kind != Kind::kString)
      u.fail("state dict key " + std::to_string(i / 2) + " is a " + str(key->kind) + ", not a string");
    if (!TorchHooks::is_tensor(value))
      u.fail("the value of '" + pickle::printable(key->text) + "' is a " + str(value->kind) +
             ", not a tensor: only a flat {name: tensor} state dict can be loaded (save a nested "
             "checkpoint such as {'model': state_dict} as the inner state dict)");
    TorchBinEntry entry = hooks.tensors[static_cast<std::size_t>(value->integer)];
    entry.name = key->text;

    const PendingStorage& pending = hooks.storages[entry.storage_index];
    std::size_t& position = storage_position[entry.storage_index];
    if (position == SIZE_MAX) {
      position = out.storages.size();
      TorchBinStorage storage;
      storage.key = pending.key;
      storage.dtype = pending.dtype;
      storage.nbytes = pending.nbytes;
      storage.alignment = c10::elementSize(pending.dtype);
      out.storages.push_back(std::move(storage));
    }
    TorchBinStorage& storage = out.storages[position];
    storage.alignment = std::max(storage.alignment, c10::elementSize(entry.dtype));
    entry.storage_index = position;
    out.entries.push_back(std::move(entry));
  }
  out.end = u.position();
  return out;
}

}  // namespace

std::int64_t TorchBinEntry::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::uint64_t TorchBinEntry::nbytes() const {
  return static_cast<std::uint64_t>(numel()) * c10::elementSize(dtype);
}

TorchPickle parse_torch_pickle(std::span<const std::uint8_t> bytes, std::string_view label) {
  TorchHooks hooks;
  Unpickler unpickler(bytes, std::string(label), hooks);
  const Object* root = unpickler.load();
  return collect(unpickler, root, hooks);
}

}  // namespace hfcpp
