// Zip reading: end records, ZIP64, central directory, local headers; and CRC-32.
#include "hfcpp/io/zip.h"

#include <array>
#include <limits>

#include "hfcpp/error.h"
#include "zip_format.h"

namespace hfcpp {
namespace {

using namespace zip_format;

// Slicing-by-8 tables: eight bytes per step, ~1 cycle per byte, fast enough that checksumming
// never dominates writing a checkpoint.
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> tables{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    tables[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i)
    for (std::size_t t = 1; t < 8; ++t)
      tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xFF];
  return tables;
}
constexpr auto kCrcTables = make_crc_tables();

[[noreturn]] void bad_archive(const std::string& label, const std::string& what) {
  throw FormatError(label + ": not a valid zip archive: " + what);
}
[[noreturn]] void bad_entry(const std::string& label, const std::string& name, const std::string& what) {
  throw FormatError(label + ": zip entry '" + name + "': " + what);
}

// [offset, offset + length) lies inside a file of `size` bytes (no overflow).
bool fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

struct EndRecord {
  std::uint64_t entries = 0;
  std::uint64_t directory_offset = 0;
  std::uint64_t directory_size = 0;
  std::uint64_t directory_limit = 0;  // where the end records start: the directory ends before
};

std::uint64_t find_end_of_directory(const std::uint8_t* data, std::size_t size, const std::string& label) {
  if (size < kEndSize)
    bad_archive(label, "the file has " + std::to_string(size) + " bytes, too few for a zip end record");
  const std::size_t last = size - kEndSize;
  const std::size_t first = last > kMaxComment ? last - kMaxComment : 0;
  for (std::size_t pos = last + 1; pos-- > first;) {
    if (le32(data + pos) != kEndSignature) continue;
    if (pos + kEndSize + le16(data + pos + 20) <= size) return pos;
  }
  bad_archive(label, "no end-of-central-directory record (truncated file or not a zip archive)");
}

EndRecord read_end_records(const std::uint8_t* data, std::size_t size, const std::string& label) {
  const std::uint64_t end = find_end_of_directory(data, size, label);
  const std::uint8_t* p = data + end;
  if (le16(p + 4) != 0 || le16(p + 6) != 0) bad_archive(label, "multi-disk archives are not supported");
  EndRecord record;
  record.entries = le16(p + 10);
  record.directory_size = le32(p + 12);
  record.directory_offset = le32(p + 16);
  record.directory_limit = end;

  // A ZIP64 locator right before the end record points to the ZIP64 end record, whose 64-bit
  // fields replace the saturated 16/32-bit ones.
  if (end < kZip64LocatorSize || le32(data + end - kZip64LocatorSize) != kZip64LocatorSignature)
    return record;
  const std::uint8_t* locator = data + end - kZip64LocatorSize;
  const std::uint64_t zip64_end = le64(locator + 8);
  if (!fits(zip64_end, kZip64EndSize, end - kZip64LocatorSize) ||
      le32(data + zip64_end) != kZip64EndSignature)
    bad_archive(label, "the ZIP64 locator points to offset " + std::to_string(zip64_end) +
                           ", where there is no ZIP64 end record");
  const std::uint8_t* z = data + zip64_end;
  if (le32(z + 16) != 0 || le32(z + 20) != 0) bad_archive(label, "multi-disk archives are not supported");
  record.entries = le64(z + 32);
  record.directory_size = le64(z + 40);
  record.directory_offset = le64(z + 48);
  record.directory_limit = zip64_end;
  return record;
}

// Replaces saturated 32-bit fields with the values of the ZIP64 extended-information field.
void apply_zip64_extra(std::span<const std::uint8_t> extra, ZipEntry& entry, const std::string& label) {
  std::size_t pos = 0;
  while (pos + 4 <= extra.size()) {
    const std::uint16_t id = le16(&extra[pos]);
    const std::uint16_t length = le16(&extra[pos + 2]);
    if (length > extra.size() - pos - 4)
      bad_entry(label, entry.name, "extra field runs past the end of its central header");
    if (id == kZip64ExtraId) {
      std::size_t field = pos + 4;
      const std::size_t field_end = field + length;
      auto take = [&](std::uint64_t& value, const char* what) {
        if (field + 8 > field_end)
          bad_entry(label, entry.name, std::string("ZIP64 extra field lacks the ") + what);
        value = le64(&extra[field]);
        field += 8;
      };
      if (entry.size == kSaturated32) take(entry.size, "uncompressed size");
      if (entry.compressed_size == kSaturated32) take(entry.compressed_size, "compressed size");
      if (entry.local_header_offset == kSaturated32) take(entry.local_header_offset, "local header offset");
      return;
    }
    pos += 4 + length;
  }
}

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  const auto& t = kCrcTables;
  std::uint32_t c = ~crc;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    const std::uint32_t lo = c ^ le32(p);
    const std::uint32_t hi = le32(p + 4);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

ZipArchive ZipArchive::parse(const std::uint8_t* data, std::size_t size, std::string label) {
  ZipArchive archive(data, size, std::move(label));
  const std::string& name = archive.label_;
  const EndRecord end = read_end_records(data, size, name);
  if (!fits(end.directory_offset, end.directory_size, end.directory_limit))
    bad_archive(name, "the central directory (offset " + std::to_string(end.directory_offset) +
                          ", " + std::to_string(end.directory_size) +
                          " bytes) lies outside the file before its end records");
  if (end.entries > end.directory_size / kCentralSize)
    bad_archive(name, "the end record counts " + std::to_string(end.entries) + " entries but the " +
                          std::to_string(end.directory_size) + "-byte central directory cannot hold them");

  archive.entries_.reserve(static_cast<std::size_t>(end.entries));
  std::uint64_t pos = end.directory_offset;
  const std::uint64_t directory_end = end.directory_offset + end.directory_size;
  for (std::uint64_t i = 0; i < end.entries; ++i) {
    if (!fits(pos, kCentralSize, directory_end) || le32(data + pos) != kCentralSignature)
      bad_archive(name, "central directory entry " + std::to_string(i) + " at offset " +
                            std::to_string(pos) + " is missing or truncated");
    const std::uint8_t* p = data + pos;
    const std::uint16_t name_length = le16(p + 28);
    const std::uint16_t extra_length = le16(p + 30);
    const std::uint16_t comment_length = le16(p + 32);
    const std::uint64_t record_size = kCentralSize + name_length + extra_length + comment_length;
    if (!fits(pos, record_size, directory_end))
      bad_archive(name, "central directory entry " + std::to_string(i) + " runs past the directory");

    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_length);
    entry.flags = le16(p + 8);
    entry.method = le16(p + 10);
    entry.crc32 = le32(p + 16);
    entry.compressed_size = le32(p + 20);
    entry.size = le32(p + 24);
    entry.local_header_offset = le32(p + 42);
    apply_zip64_extra({p + kCentralSize + name_length, extra_length}, entry, name);

    if (!fits(entry.local_header_offset, kLocalSize, end.directory_offset) ||
        !fits(entry.local_header_offset + kLocalSize, entry.compressed_size, end.directory_offset))
      bad_entry(name, entry.name,
                "local header offset " + std::to_string(entry.local_header_offset) + " and size " +
                    std::to_string(entry.compressed_size) + " reach past the central directory at " +
                    std::to_string(end.directory_offset));
    if (!archive.index_.emplace(entry.name, archive.entries_.size()).second)
      bad_entry(name, entry.name, "the archive holds two entries with this name");
    archive.entries_.push_back(std::move(entry));
    pos += record_size;
  }
  return archive;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::uint64_t ZipArchive::data_offset(const ZipEntry& entry) const {
  const std::uint64_t offset = entry.local_header_offset;
  if (!fits(offset, kLocalSize, size_) || le32(data_ + offset) != kLocalSignature)
    bad_entry(label_, entry.name, "no local header at offset " + std::to_string(offset));
  const std::uint8_t* p = data_ + offset;
  const std::uint16_t name_length = le16(p + 26);
  const std::uint16_t extra_length = le16(p + 28);
  // The local extra field may be longer than the central one: torch pads there for alignment.
  const std::uint64_t start = offset + kLocalSize + name_length + extra_length;
  if (!fits(offset + kLocalSize, name_length, size_) ||
      std::string_view(reinterpret_cast<const char*>(p + kLocalSize), name_length) != entry.name)
    bad_entry(label_, entry.name, "the local header at offset " + std::to_string(offset) +
                                      " names a different file");
  if (!fits(start, entry.compressed_size, size_))
    bad_entry(label_, entry.name, "its " + std::to_string(entry.compressed_size) +
                                      " bytes at offset " + std::to_string(start) +
                                      " run past the end of the file (" + std::to_string(size_) +
                                      " bytes)");
  return start;
}

void ZipArchive::require_stored(const ZipEntry& entry) const {
  if (entry.flags & kEncryptedFlag) bad_entry(label_, entry.name, "entry is encrypted");
  if (entry.method != kStored)
    bad_entry(label_, entry.name,
              "entry is compressed (method " + std::to_string(entry.method) +
                  "); torch checkpoints store entries uncompressed (re-save with torch.save, or "
                  "re-zip with `zip -0`)");
  if (entry.compressed_size != entry.size)
    bad_entry(label_, entry.name, "stored entry has compressed size " +
                                      std::to_string(entry.compressed_size) + " but size " +
                                      std::to_string(entry.size));
}

std::span<const std::uint8_t> ZipArchive::read(const ZipEntry& entry) const {
  require_stored(entry);
  const std::uint64_t start = data_offset(entry);
  return {data_ + start, static_cast<std::size_t>(entry.size)};
}

std::span<const std::uint8_t> ZipArchive::read_verified(const ZipEntry& entry) const {
  const auto bytes = read(entry);
  const std::uint32_t actual = crc32(bytes);
  if (actual != entry.crc32)
    bad_entry(label_, entry.name, "CRC-32 mismatch (the data is corrupt): directory says " +
                                      std::to_string(entry.crc32) + ", the bytes give " +
                                      std::to_string(actual));
  return bytes;
}

}  // namespace hfcpp
