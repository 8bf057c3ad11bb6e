// Fuzzes the shard index parser (model.safetensors.index.json / pytorch_model.bin.index.json).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hfcpp/error.h"
#include "hfcpp/io/tensor_source.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto index = hfcpp::parse_shard_index(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.index.json");
    // What the parser promised: every shard name is a plain file name inside the folder.
    for (const auto& file : index.shard_files()) {
      if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos ||
          file.find('\\') != std::string::npos || file.find('\0') != std::string::npos)
        __builtin_trap();
    }
  } catch (const hfcpp::Error&) {
  }
  return 0;
}
