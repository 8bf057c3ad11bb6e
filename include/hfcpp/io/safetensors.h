// The safetensors format: an 8-byte little-endian header length, a JSON header, then the bytes of
// every tensor back to back. Reading maps the file and hands out zero-copy tensors; writing is
// byte-identical to the Python/Rust `safetensors` package.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hfcpp/dtype.h"
#include "hfcpp/io/mapped_file.h"

namespace hfcpp {

inline constexpr std::uint64_t kSafetensorsMaxHeaderSize = 100'000'000;

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // offsets relative to the start of the data buffer
  std::uint64_t end = 0;
  std::uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // absolute file offset of the data buffer (8 + header length)

  const SafetensorsEntry* find(std::string_view name) const;
  std::unordered_map<std::string, std::size_t> index;  // name -> position in `tensors`
};

// Parses and validates the header of a whole safetensors file held in [data, data + size).
// Every check the format allows is made: header length (and the 100 MB cap) within the file,
// JSON object, no duplicate keys, known dtypes, shapes whose byte size (overflow-checked) equals
// end - begin, offsets that tile the data buffer exactly with nothing after the last tensor, and a
// string-to-string __metadata__. Throws FormatError naming `label` (usually the path) and the key.
SafetensorsHeader parse_safetensors_header(const std::uint8_t* data, std::size_t size,
                                           std::string_view label);

// An open safetensors file. Tensors alias the mapping and keep it alive.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);

  const SafetensorsHeader& header() const { return header_; }
  const std::filesystem::path& path() const { return file_->path(); }
  const std::shared_ptr<MappedFile>& mapping() const { return file_; }

  // The tensor in its stored dtype, zero-copy when aligned. Throws KeyError for an unknown name,
  // UnsupportedError for dtypes libtorch cannot hold (use bytes()).
  at::Tensor tensor(std::string_view name) const;
  at::Tensor tensor(const SafetensorsEntry& entry) const;
  std::span<const std::uint8_t> bytes(const SafetensorsEntry& entry) const;

 private:
  SafetensorsFile(std::shared_ptr<MappedFile> file, SafetensorsHeader header)
      : file_(std::move(file)), header_(std::move(header)) {}
  std::shared_ptr<MappedFile> file_;
  SafetensorsHeader header_;
};

// Tensors to write: name -> tensor. The order given does not matter; the file is laid out as the
// Python package lays it out (descending dtype alignment, then name).
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The 8-byte length + padded JSON header for these tensors, and the order their data follows.
struct SafetensorsLayout {
  std::string header;                // length prefix included
  std::vector<std::size_t> order;    // indices into the input, in file order
  std::uint64_t data_size = 0;
};
// Metadata as Python's optional dict: nullopt writes no "__metadata__" entry at all.
using SafetensorsMetadata = std::optional<std::map<std::string, std::string>>;
SafetensorsLayout plan_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata);

// Writes `tensors` to `path` (contiguous copies are made for non-contiguous tensors; CPU or any
// other device). Metadata is written sorted by key; Python writes a single-key map the same way.
void save_safetensors(const NamedTensors& tensors, const std::filesystem::path& path,
                      const SafetensorsMetadata& metadata = std::nullopt);

// Loads every tensor of a file (zero-copy where aligned).
NamedTensors load_safetensors(const std::filesystem::path& path);

}  // namespace hfcpp
