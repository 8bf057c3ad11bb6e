// Reading torch.save checkpoints: layout detection, the zip and legacy containers around the
// pickle, and tensors over the mapped file.
#include "hfcpp/io/torch_bin.h"

#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>

#include "hfcpp/error.h"
#include "mapped_tensor.h"
#include "pickle_machine.h"

namespace hfcpp {
namespace {

// torch's legacy magic number 0x1950a86a20f9469cfc6c, as the little-endian bytes LONG1 holds.
constexpr std::uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr std::int64_t kLegacyProtocolVersion = 1001;
// The zip format versions torch's reader accepts.
constexpr int kMinZipVersion = 1;
constexpr int kMaxZipVersion = 10;

[[noreturn]] void bad(const std::string& label, const std::string& what) {
  throw FormatError(label + ": not a valid PyTorch checkpoint: " + what);
}

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  return text;
}

bool starts_with(std::span<const std::uint8_t> bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() && std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

void read_zip(std::span<const std::uint8_t> bytes, const std::string& label, TorchBinLayout& layout) {
  layout.format = TorchBinFormat::kZip;
  const ZipArchive& archive = layout.archive.emplace(ZipArchive::parse(bytes.data(), bytes.size(), label));
  if (archive.entries().empty()) bad(label, "the zip archive is empty");
  // Like torch, take the folder of the first entry as the archive's prefix.
  const std::string& first = archive.entries().front().name;
  const auto slash = first.find('/');
  if (slash == std::string::npos)
    bad(label, "zip entry '" + pickle::printable(first) + "' is not inside a folder, as torch.save's are");
  layout.prefix = first.substr(0, slash);
  const std::string folder = layout.prefix + "/";

  auto small_record = [&](std::initializer_list<const char*> names) -> std::optional<std::string_view> {
    for (const char* name : names)
      if (const ZipEntry* entry = archive.find(folder + name)) return as_text(archive.read_verified(*entry));
    return std::nullopt;
  };
  const auto version = small_record({"version", ".data/version"});
  if (!version) bad(label, "the archive has no '" + folder + "version' record");
  int number = 0;
  const std::string_view digits = trim(*version);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (ec != std::errc() || end != digits.data() + digits.size() || number < kMinZipVersion ||
      number > kMaxZipVersion)
    bad(label, "unsupported format version '" + pickle::printable(digits) + "' (expected " +
                   std::to_string(kMinZipVersion) + " to " + std::to_string(kMaxZipVersion) + ")");
  if (const auto order = small_record({"byteorder"})) {
    if (trim(*order) == "big") layout.big_endian = true;
    else if (trim(*order) != "little")
      bad(label, "byteorder record says '" + pickle::printable(*order) + "', expected little or big");
  }

  const std::string pickle_name = folder + "data.pkl";
  const ZipEntry* pickle_entry = archive.find(pickle_name);
  if (pickle_entry == nullptr) bad(label, "the archive has no '" + pickle_name + "' record");
  layout.pickle = parse_torch_pickle(archive.read_verified(*pickle_entry), label + " (" + pickle_name + ")");

  for (TorchBinStorage& storage : layout.pickle.storages) {
    storage.record = folder + "data/" + storage.key;
    const ZipEntry* entry = archive.find(storage.record);
    if (entry == nullptr)
      bad(label, "storage '" + pickle::printable(storage.key) + "' has no record '" +
                     pickle::printable(storage.record) + "'");
    archive.require_stored(*entry);
    if (entry->size < storage.nbytes)
      bad(label, "record '" + pickle::printable(storage.record) + "' holds " +
                     std::to_string(entry->size) + " bytes but its storage needs " +
                     std::to_string(storage.nbytes));
  }
}

void read_legacy(std::span<const std::uint8_t> bytes, const std::string& label, TorchBinLayout& layout) {
  layout.format = TorchBinFormat::kLegacy;
  pickle::Hooks no_globals;
  pickle::Unpickler header(bytes, label, no_globals);
  const pickle::Object* magic = header.load();
  if (magic->kind != pickle::Kind::kBigInt || magic->text != as_text(kLegacyMagic))
    bad(label, "it is neither a zip archive nor a legacy torch.save stream (no magic number)");
  const pickle::Object* protocol = header.load();
  if (protocol->kind != pickle::Kind::kInt || protocol->integer != kLegacyProtocolVersion)
    bad(label, "unsupported legacy protocol version (expected 1001)");
  const pickle::Object* sys_info = header.load();
  if (sys_info->kind != pickle::Kind::kDict) bad(label, "legacy sys_info is not a dict");
  if (auto it = sys_info->string_keys.find("little_endian"); it != sys_info->string_keys.end()) {
    const pickle::Object* little = sys_info->items[it->second];
    if (little->kind == pickle::Kind::kBool && little->integer == 0)
      bad(label, "legacy checkpoints written on big-endian machines are not supported");
  }

  const std::size_t main_start = header.position();
  layout.pickle = parse_torch_pickle(bytes.subspan(main_start), label);
  const std::size_t keys_start = main_start + layout.pickle.end;
  pickle::Unpickler keys_reader(bytes.subspan(keys_start), label, no_globals);
  const pickle::Object* keys = keys_reader.load();
  if (keys->kind != pickle::Kind::kList) bad(label, "the legacy storage key list is missing");

  std::unordered_map<std::string_view, std::size_t> by_key;
  for (std::size_t i = 0; i < layout.pickle.storages.size(); ++i)
    by_key.emplace(layout.pickle.storages[i].key, i);
  std::vector<bool> placed(layout.pickle.storages.size(), false);
  std::uint64_t offset = keys_start + keys_reader.position();
  for (const pickle::Object* key : keys->items) {
    if (key->kind != pickle::Kind::kString) bad(label, "a legacy storage key is not a string");
    auto it = by_key.find(key->text);
    if (it == by_key.end())
      bad(label, "storage '" + pickle::printable(key->text) + "' is listed but no tensor uses it");
    if (placed[it->second]) bad(label, "storage '" + pickle::printable(key->text) + "' is listed twice");
    TorchBinStorage& storage = layout.pickle.storages[it->second];
    if (bytes.size() < 8 || offset > bytes.size() - 8)
      bad(label, "the file ends before storage '" + pickle::printable(storage.key) + "'");
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | bytes[offset + i];
    const std::uint64_t element = c10::elementSize(storage.dtype);
    if (count != storage.nbytes / element)
      bad(label, "storage '" + pickle::printable(storage.key) + "' holds " + std::to_string(count) +
                     " elements in the file but the pickle says " + std::to_string(storage.nbytes / element));
    storage.offset = offset + 8;
    if (storage.nbytes > bytes.size() - storage.offset)
      bad(label, "storage '" + pickle::printable(storage.key) + "' (" + std::to_string(storage.nbytes) +
                     " bytes at offset " + std::to_string(storage.offset) + ") runs past the end of the file");
    offset = storage.offset + storage.nbytes;
    placed[it->second] = true;
  }
  for (std::size_t i = 0; i < placed.size(); ++i)
    if (!placed[i]) bad(label, "storage '" + pickle::printable(layout.pickle.storages[i].key) + "' has no data");
}

// Big-endian files: a native copy with every element's bytes reversed.
void swap_bytes(std::uint8_t* data, std::uint64_t nbytes, std::size_t element) {
  if (element <= 1) return;
  for (std::uint64_t i = 0; i + element <= nbytes; i += element) std::reverse(data + i, data + i + element);
}

}  // namespace

TorchBinLayout parse_torch_bin(std::span<const std::uint8_t> bytes, std::string label) {
  TorchBinLayout layout;
  if (bytes.empty()) bad(label, "the file is empty");
  if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06")) {
    read_zip(bytes, label, layout);
  } else if (bytes[0] == 0x80) {  // pickle PROTO: the legacy stream
    read_legacy(bytes, label, layout);
  } else if (bytes.size() > 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0) {
    bad(label, "tar checkpoints of torch < 0.4 are not supported; re-save with a newer torch");
  } else {
    bad(label, "it is neither a zip archive nor a legacy torch.save stream");
  }
  return layout;
}

struct TorchBinFile::StorageCache {
  std::mutex mutex;
  // Weak: a storage is shared while some tensor holds it, and freed (copies) when none does.
  std::vector<std::optional<c10::weak_intrusive_ptr<c10::StorageImpl>>> storages;
};

TorchBinFile::TorchBinFile(std::shared_ptr<MappedFile> file, TorchBinLayout layout)
    : file_(std::move(file)), layout_(std::move(layout)), cache_(std::make_shared<StorageCache>()) {
  cache_->storages.resize(layout_.pickle.storages.size());
  for (std::size_t i = 0; i < layout_.pickle.entries.size(); ++i)
    index_.emplace(layout_.pickle.entries[i].name, i);
}

TorchBinFile TorchBinFile::open(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  TorchBinLayout layout = parse_torch_bin({file->data(), file->size()}, path.string());
  return TorchBinFile(std::move(file), std::move(layout));
}

const TorchBinEntry* TorchBinFile::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &layout_.pickle.entries[it->second];
}

std::span<const std::uint8_t> TorchBinFile::storage_bytes(const TorchBinStorage& storage) const {
  std::uint64_t offset = storage.offset;
  if (layout_.format == TorchBinFormat::kZip) {
    const ZipEntry* entry = layout_.archive->find(storage.record);
    if (entry == nullptr) throw KeyError(path().string() + ": no record '" + storage.record + "'");
    offset = layout_.archive->data_offset(*entry);
  }
  return {file_->data() + offset, static_cast<std::size_t>(storage.nbytes)};
}

c10::Storage TorchBinFile::storage(std::size_t index) const {
  std::lock_guard lock(cache_->mutex);
  auto& cached = cache_->storages[index];
  if (cached) {
    if (auto alive = cached->lock()) return c10::Storage(std::move(alive));
  }
  const TorchBinStorage& info = layout_.pickle.storages[index];
  const auto bytes = storage_bytes(info);
  c10::Storage storage;
  if (layout_.big_endian) {
    storage = c10::Storage(c10::Storage::use_byte_size_t(), bytes.size(),
                           c10::GetAllocator(c10::DeviceType::CPU), /*resizable=*/false);
    auto* data = static_cast<std::uint8_t*>(storage.data_ptr().get());
    if (!bytes.empty()) std::memcpy(data, bytes.data(), bytes.size());
    swap_bytes(data, bytes.size(), info.alignment);
  } else {
    storage = detail::storage_over_mapping(file_, bytes.data() - file_->data(), bytes.size(), info.alignment);
  }
  cached.emplace(storage.getWeakStorageImpl());
  return storage;
}

at::Tensor TorchBinFile::tensor(const TorchBinEntry& entry) const {
  c10::Storage storage = this->storage(entry.storage_index);
  return at::empty({0}, at::TensorOptions().dtype(entry.dtype))
      .set_(storage, entry.storage_offset, entry.shape, entry.stride);
}

at::Tensor TorchBinFile::tensor(std::string_view name) const {
  const TorchBinEntry* entry = find(name);
  if (entry == nullptr)
    throw KeyError("no tensor '" + std::string(name) + "' in " + path().string());
  return tensor(*entry);
}

StateDict TorchBinFile::load_all() const {
  StateDict state_dict;
  state_dict.reserve(entries().size());
  for (const TorchBinEntry& entry : entries()) state_dict.insert(entry.name, tensor(entry));
  return state_dict;
}

}  // namespace hfcpp
