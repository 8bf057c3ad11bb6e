// Fuzzes the allow-list unpickler with data.pkl-like inputs. Whatever parses must describe
// tensors that lie inside their storages.
#include <cstddef>
#include <cstdint>

#include "hfcpp/error.h"
#include "hfcpp/io/torch_bin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto pickle = hfcpp::parse_torch_pickle({data, size}, "fuzz.pkl");
    for (const auto& entry : pickle.entries) {
      if (entry.storage_index >= pickle.storages.size()) __builtin_trap();
      const auto& storage = pickle.storages[entry.storage_index];
      if (entry.storage_key != storage.key) __builtin_trap();
      if (entry.numel() == 0) continue;
      // Last byte the tensor reads, as at::Tensor::set_ would compute it.
      std::uint64_t last = static_cast<std::uint64_t>(entry.storage_offset);
      for (std::size_t d = 0; d < entry.shape.size(); ++d)
        last += static_cast<std::uint64_t>(entry.shape[d] - 1) * static_cast<std::uint64_t>(entry.stride[d]);
      if ((last + 1) * c10::elementSize(entry.dtype) > storage.nbytes) __builtin_trap();
    }
  } catch (const hfcpp::Error&) {
  }
  return 0;
}
