// Fuzzes the zip reader and the whole-checkpoint parser (zip and legacy layouts) with file-like
// inputs, then touches every byte range they promised lies inside the input.
#include <cstddef>
#include <cstdint>

#include "hfcpp/error.h"
#include "hfcpp/io/torch_bin.h"
#include "hfcpp/io/zip.h"

namespace {

volatile std::uint8_t sink = 0;

void touch(std::span<const std::uint8_t> bytes) {
  if (!bytes.empty()) sink ^= bytes.front() ^ bytes.back();
}

void fuzz_archive(const std::uint8_t* data, std::size_t size) {
  try {
    const auto archive = hfcpp::ZipArchive::parse(data, size, "fuzz.zip");
    for (const auto& entry : archive.entries()) {
      try {
        touch(archive.read(entry));
        if (entry.size < 4096) archive.read_verified(entry);
      } catch (const hfcpp::Error&) {
      }
    }
  } catch (const hfcpp::Error&) {
  }
}

void fuzz_checkpoint(const std::uint8_t* data, std::size_t size) {
  try {
    const auto layout = hfcpp::parse_torch_bin({data, size}, "fuzz.bin");
    for (const auto& storage : layout.pickle.storages) {
      if (layout.format == hfcpp::TorchBinFormat::kLegacy) {
        touch({data + storage.offset, static_cast<std::size_t>(storage.nbytes)});
        continue;
      }
      const hfcpp::ZipEntry* entry = layout.archive->find(storage.record);
      if (entry == nullptr || entry->size < storage.nbytes) __builtin_trap();  // parse promised both
      try {
        touch(layout.archive->read(*entry).first(static_cast<std::size_t>(storage.nbytes)));
      } catch (const hfcpp::Error&) {
      }
    }
  } catch (const hfcpp::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_archive(data, size);
  fuzz_checkpoint(data, size);
  return 0;
}
