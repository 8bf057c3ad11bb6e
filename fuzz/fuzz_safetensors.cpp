// Fuzzes the safetensors header parser with whole-file inputs.
#include <cstddef>
#include <cstdint>

#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto header = hfcpp::parse_safetensors_header(data, size, "fuzz.safetensors");
    // Touch every tensor's byte range: parsing promised it lies inside the input.
    volatile std::uint8_t sink = 0;
    for (const auto& entry : header.tensors)
      if (entry.nbytes() > 0) sink ^= data[header.data_start + entry.end - 1];
  } catch (const hfcpp::Error&) {
  }
  return 0;
}
