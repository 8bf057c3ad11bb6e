// Zip writing in torch.save's layout (see ZipWriter in zip.h).
#include <algorithm>

#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "hfcpp/io/zip.h"
#include "zip_format.h"

namespace hfcpp {
namespace {

using namespace zip_format;

constexpr std::uint16_t kFlags = kDataDescriptorFlag | kUtf8Flag;
// torch's padding field: "FB", a 16-bit length, then that many 'Z' bytes.
constexpr std::size_t kPaddingHeader = 4;
// Checksum and write in slices that stay in cache between the two passes.
constexpr std::size_t kSlice = std::size_t{4} << 20;

bool needs_64(std::uint64_t value) { return value >= kSaturated32; }
std::uint32_t saturate32(std::uint64_t value) {
  return needs_64(value) ? kSaturated32 : static_cast<std::uint32_t>(value);
}

// The ZIP64 extended-information field with the values that overflow 32 bits (or all of them in
// kAlways mode); torch's writer puts the same field in the local and the central header.
std::string zip64_extra(bool size64, bool offset64, std::uint64_t size, std::uint64_t offset) {
  std::string extra;
  if (!size64 && !offset64) return extra;
  put16(extra, kZip64ExtraId);
  put16(extra, static_cast<std::uint16_t>((size64 ? 16 : 0) + (offset64 ? 8 : 0)));
  if (size64) {
    put64(extra, size);  // uncompressed
    put64(extra, size);  // compressed: the same, entries are stored
  }
  if (offset64) put64(extra, offset);
  return extra;
}

}  // namespace

void ZipWriter::add(std::string_view name, std::span<const std::uint8_t> bytes) {
  if (finished_) throw ValueError("zip entry '" + std::string(name) + "' added after finish()");
  if (name.size() > kSaturated16)
    throw ValueError("zip entry name is longer than 65535 bytes: " + std::string(name.substr(0, 64)));
  const std::uint64_t offset = out_.position();
  const std::uint64_t size = bytes.size();
  const bool size64 = always_zip64() || needs_64(size);
  const bool offset64 = always_zip64() || needs_64(offset);
  // Sizes and CRC follow the data in a descriptor (so the data is read only once); torch writes
  // none for empty entries.
  const bool descriptor = size > 0;

  std::string extra = zip64_extra(size64, offset64, size, offset);
  const std::uint64_t unpadded = offset + kLocalSize + name.size() + extra.size() + kPaddingHeader;
  const std::size_t padding = (kAlignment - unpadded % kAlignment) % kAlignment;
  extra += "FB";
  put16(extra, static_cast<std::uint16_t>(padding));
  extra.append(padding, 'Z');

  std::string header;
  put32(header, kLocalSignature);
  put16(header, 0);  // version needed: torch (miniz) writes 0 for stored entries
  put16(header, descriptor ? kFlags : kUtf8Flag);
  put16(header, kStored);
  put32(header, 0);  // DOS time and date: torch writes zeros
  put32(header, 0);  // CRC-32 and sizes: in the descriptor (or zero for an empty entry)
  put32(header, 0);
  put32(header, 0);
  put16(header, static_cast<std::uint16_t>(name.size()));
  put16(header, static_cast<std::uint16_t>(extra.size()));
  header += name;
  header += extra;
  out_.write(header);

  std::uint32_t crc = 0;
  for (std::size_t done = 0; done < bytes.size();) {
    const auto slice = bytes.subspan(done, std::min(kSlice, bytes.size() - done));
    crc = crc32(slice, crc);
    out_.write(slice.data(), slice.size());
    done += slice.size();
  }

  if (descriptor) {
    std::string footer;
    put32(footer, kDataDescriptorSignature);
    put32(footer, crc);
    if (size64 || offset64) {  // 8-byte sizes whenever the local header has a ZIP64 field
      put64(footer, size);
      put64(footer, size);
    } else {
      put32(footer, static_cast<std::uint32_t>(size));
      put32(footer, static_cast<std::uint32_t>(size));
    }
    out_.write(footer);
  }
  written_.push_back({std::string(name), crc, size, offset});
}

void ZipWriter::finish() {
  if (finished_) return;
  finished_ = true;
  const std::uint64_t directory_offset = out_.position();
  std::string directory;
  for (const Written& entry : written_) {
    const bool size64 = always_zip64() || needs_64(entry.size);
    const bool offset64 = always_zip64() || needs_64(entry.local_header_offset);
    const std::string extra = zip64_extra(size64, offset64, entry.size, entry.local_header_offset);
    put32(directory, kCentralSignature);
    put16(directory, 0);  // version made by
    put16(directory, 0);  // version needed
    put16(directory, entry.size > 0 ? kFlags : kUtf8Flag);
    put16(directory, kStored);
    put32(directory, 0);  // DOS time and date
    put32(directory, entry.crc32);
    put32(directory, size64 ? kSaturated32 : static_cast<std::uint32_t>(entry.size));
    put32(directory, size64 ? kSaturated32 : static_cast<std::uint32_t>(entry.size));
    put16(directory, static_cast<std::uint16_t>(entry.name.size()));
    put16(directory, static_cast<std::uint16_t>(extra.size()));
    put16(directory, 0);  // comment length
    put16(directory, 0);  // disk
    put16(directory, 0);  // internal attributes
    put32(directory, 0);  // external attributes
    put32(directory, offset64 ? kSaturated32 : static_cast<std::uint32_t>(entry.local_header_offset));
    directory += entry.name;
    directory += extra;
  }
  out_.write(directory);

  // torch always writes the ZIP64 end record and locator, and saturates the classic end record's
  // fields only where they overflow.
  const std::uint64_t count = written_.size();
  const std::uint64_t directory_size = directory.size();
  const std::uint64_t zip64_end = out_.position();
  std::string end;
  put32(end, kZip64EndSignature);
  put64(end, kZip64EndSize - 12);  // size of the rest of the record
  put16(end, 0x031E);              // made by: Unix, spec 3.0 (as miniz writes)
  put16(end, 45);                  // needed: 4.5 introduced ZIP64
  put32(end, 0);                   // this disk
  put32(end, 0);                   // disk with the directory
  put64(end, count);
  put64(end, count);
  put64(end, directory_size);
  put64(end, directory_offset);
  put32(end, kZip64LocatorSignature);
  put32(end, 0);
  put64(end, zip64_end);
  put32(end, 1);  // number of disks

  const bool saturate = always_zip64();
  const auto count16 = saturate || count >= kSaturated16 ? kSaturated16 : static_cast<std::uint16_t>(count);
  put32(end, kEndSignature);
  put16(end, 0);
  put16(end, 0);
  put16(end, count16);
  put16(end, count16);
  put32(end, saturate ? kSaturated32 : saturate32(directory_size));
  put32(end, saturate ? kSaturated32 : saturate32(directory_offset));
  put16(end, 0);  // comment length
  out_.write(end);
}

}  // namespace hfcpp
