// PyTorch checkpoints written by torch.save (`pytorch_model.bin`): reading with an allow-list
// unpickler equivalent to torch.load(weights_only=True), and writing files that real PyTorch
// loads back with weights_only=True.
//
// Two layouts exist. The zip archive (torch >= 1.6): `<prefix>/data.pkl`, one stored entry
// `<prefix>/data/<key>` per storage, `<prefix>/version`, optionally `<prefix>/byteorder`. The
// legacy stream (`_use_new_zipfile_serialization=False`): magic-number, protocol and sys-info
// pickles, the main pickle, a pickle listing the storage keys, then each storage as an 8-byte
// little-endian element count followed by its bytes.
//
// The file must hold a flat {name: tensor} dict or OrderedDict (what state_dict() and
// save_pretrained write). Any other top-level value, such as a nested {"model": {...}} or an
// epoch counter, is refused with a FormatError naming the key rather than skipped, so a
// checkpoint is never silently read as fewer tensors than it holds.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hfcpp/io/mapped_file.h"
#include "hfcpp/io/zip.h"
#include "hfcpp/state_dict.h"

namespace hfcpp {

// One tensor of the state dict, in pickle (insertion) order.
struct TorchBinEntry {
  std::string name;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> stride;
  std::int64_t storage_offset = 0;  // in elements of `dtype`
  std::string storage_key;          // tensors with the same key share one storage (tied weights)
  std::size_t storage_index = 0;    // position of that storage in storages()

  std::int64_t numel() const;
  // numel * element size: the tensor's own bytes (its storage may hold more).
  std::uint64_t nbytes() const;
};

// One storage (a flat byte buffer that tensors view).
struct TorchBinStorage {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;  // Byte for torch 2.x untyped storages
  std::uint64_t nbytes = 0;
  std::size_t alignment = 1;  // largest element size viewing it: zero-copy needs this alignment
  std::string record;         // zip: the archive entry holding the bytes
  std::uint64_t offset = 0;   // legacy: file offset of the bytes (zip: found from `record` on use)
};

// What the pickle of a checkpoint describes: the tensors and the storages they view. Every tensor
// has been checked to lie inside its storage (offset, shape and stride, overflow-checked).
struct TorchPickle {
  std::vector<TorchBinEntry> entries;
  std::vector<TorchBinStorage> storages;  // those entries use, in order of first use
  std::size_t end = 0;                    // offset just past the pickle's STOP opcode
};

// Parses pickle bytes (torch.save's data.pkl, or the legacy format's main pickle) into entries and
// storage references, with no file access. Globals outside the allow-list (OrderedDict, torch's
// tensor/parameter rebuild functions, torch.*Storage types, torch dtypes, torch.Size) are refused
// with a FormatError naming the global and `label`; so is every malformed or hostile input.
TorchPickle parse_torch_pickle(std::span<const std::uint8_t> bytes, std::string_view label);

enum class TorchBinFormat { kZip, kLegacy };

// A whole checkpoint file held in memory, parsed and checked: the format, the pickle's entries
// and storages, and for zip archives the central directory. Storage bytes are located (zip) and
// bounds-checked against the data but never read. Throws FormatError naming `label`.
struct TorchBinLayout {
  TorchBinFormat format = TorchBinFormat::kZip;
  TorchPickle pickle;
  std::optional<ZipArchive> archive;  // kZip only
  std::string prefix;                 // kZip: the archive's top folder ("pytorch_model", "archive")
  bool big_endian = false;            // storages are byte-swapped on load
};
TorchBinLayout parse_torch_bin(std::span<const std::uint8_t> bytes, std::string label);

// An open checkpoint. Opening maps the file and parses only the pickle and the zip directory; no
// tensor byte is read until tensor() is called.
class TorchBinFile {
 public:
  // Detects the zip or legacy layout. Throws FileError (cannot open) or FormatError.
  static TorchBinFile open(const std::filesystem::path& path);

  TorchBinFormat format() const { return layout_.format; }
  const std::vector<TorchBinEntry>& entries() const { return layout_.pickle.entries; }
  const TorchBinEntry* find(std::string_view name) const;
  const std::vector<TorchBinStorage>& storages() const { return layout_.pickle.storages; }
  const std::filesystem::path& path() const { return file_->path(); }
  const std::shared_ptr<MappedFile>& mapping() const { return file_; }

  // The raw bytes of a storage inside the mapping (file byte order).
  std::span<const std::uint8_t> storage_bytes(const TorchBinStorage& storage) const;
  // A CPU tensor viewing its storage. The storage is zero-copy over the mapping when suitably
  // aligned (always in zip files, which align to 64 bytes), else a copy (legacy files; and big-
  // endian files, byte-swapped). Tensors of the same storage alive at the same time share one
  // at::Storage, as tied weights do in Python. Throws KeyError for an unknown name.
  at::Tensor tensor(std::string_view name) const;
  at::Tensor tensor(const TorchBinEntry& entry) const;
  // Every tensor, in file order, storages shared exactly as in the file.
  StateDict load_all() const;

 private:
  struct StorageCache;
  TorchBinFile(std::shared_ptr<MappedFile> file, TorchBinLayout layout);
  c10::Storage storage(std::size_t index) const;

  std::shared_ptr<MappedFile> file_;
  TorchBinLayout layout_;
  std::unordered_map<std::string, std::size_t> index_;
  std::shared_ptr<StorageCache> cache_;
};

// Writes `state_dict` as torch.save does (zip archive `<stem>/...`, pickle protocol 2, data
// aligned to 64 bytes, ZIP64 past 4 GiB), so that torch.load(path, weights_only=True) reads it.
// Tensors that share a storage (same StorageImpl) are written as one storage, whole, with their
// offsets and strides, and come back shared in Python. Tensors on other devices are copied to
// the CPU first. Throws ValueError / UnsupportedError for what torch cannot save either (tensors
// sharing a storage with different dtypes, complex or quantized dtypes); FileError on I/O errors,
// in which case no file is left behind.
struct TorchBinSaveOptions {
  Zip64Mode zip64 = Zip64Mode::kWhenNeeded;
  // true: the pickle holds an OrderedDict, as torch.save(model.state_dict()) writes. false: a plain
  // dict, as save_pretrained writes (it saves {name: tensor} dicts of each shard).
  bool ordered_dict = true;
  // The file's final name when `path` is a temporary file renamed later: torch names the archive's
  // top folder after the file name, so the bytes depend on it.
  std::filesystem::path final_name;
};
void save_torch_bin(const StateDict& state_dict, const std::filesystem::path& path,
                    const TorchBinSaveOptions& options = {});

}  // namespace hfcpp
