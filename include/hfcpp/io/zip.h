// The subset of the zip format that torch.save uses: stored (uncompressed) entries, ZIP64 for
// archives and entries past 4 GiB, data aligned through padding in the local header's extra field.
// Reading works over bytes already in memory (usually a MappedFile) and never copies entry data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hfcpp {

class FileWriter;

// CRC-32 (IEEE 802.3, the zip checksum) of `bytes`, continuing from `crc` (0 to start).
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

// One file of an archive as its central directory describes it.
struct ZipEntry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;  // 0 = stored; anything else is refused when read
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;
  std::uint64_t local_header_offset = 0;
};

// The central directory of a zip archive held in [data, data + size). The bytes must outlive the
// archive. Entry data is located lazily (read() parses the local header then), so opening a large
// archive touches only its end.
class ZipArchive {
 public:
  // Finds the end-of-central-directory record (searching back over a comment of up to 64 KiB),
  // follows ZIP64 records, and checks every central entry against the file size. Throws
  // FormatError naming `label` (usually the path) and the entry.
  static ZipArchive parse(const std::uint8_t* data, std::size_t size, std::string label);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;
  const std::string& label() const { return label_; }

  // Absolute offset of the entry's bytes, from its local header. Throws FormatError when the
  // local header is missing, names another file, or the bytes run past the end.
  std::uint64_t data_offset(const ZipEntry& entry) const;
  // Throws FormatError unless the entry is stored uncompressed and unencrypted (reads no data).
  void require_stored(const ZipEntry& entry) const;
  // The entry's bytes, zero-copy. Refuses compressed and encrypted entries (FormatError).
  std::span<const std::uint8_t> read(const ZipEntry& entry) const;
  // read(), then checks the bytes against the central directory's CRC-32 (for small records).
  std::span<const std::uint8_t> read_verified(const ZipEntry& entry) const;

 private:
  ZipArchive(const std::uint8_t* data, std::size_t size, std::string label)
      : data_(data), size_(size), label_(std::move(label)) {}

  const std::uint8_t* data_;
  std::size_t size_;
  std::string label_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// kWhenNeeded writes what torch does: ZIP64 end records always, ZIP64 extra fields only for
// entries whose size or offset needs 64 bits. kAlways gives every entry ZIP64 fields and saturates
// every 32-bit field, as some other tools do (readers must accept both).
enum class Zip64Mode { kWhenNeeded, kAlways };

// Writes a zip archive of stored entries the way torch.save (miniz) lays it out, byte for byte:
// local headers with the sizes deferred to a data descriptor, each entry's data aligned to 64
// bytes by padding in the local extra field, then the central directory and end records.
// Does not close `out`.
class ZipWriter {
 public:
  static constexpr std::size_t kAlignment = 64;

  explicit ZipWriter(FileWriter& out, Zip64Mode zip64 = Zip64Mode::kWhenNeeded)
      : out_(out), zip64_(zip64) {}

  // Appends one entry with `bytes` as its content.
  void add(std::string_view name, std::span<const std::uint8_t> bytes);
  void add(std::string_view name, std::string_view text) {
    add(name, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  // Writes the central directory and end records. No entry may be added afterwards.
  void finish();

 private:
  struct Written {
    std::string name;
    std::uint32_t crc32;
    std::uint64_t size;
    std::uint64_t local_header_offset;
  };
  bool always_zip64() const { return zip64_ == Zip64Mode::kAlways; }

  FileWriter& out_;
  Zip64Mode zip64_;
  std::vector<Written> written_;
  bool finished_ = false;
};

}  // namespace hfcpp
