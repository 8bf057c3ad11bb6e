#include "mapped_tensor.h"

#include <ATen/ATen.h>

#include <cstring>

namespace hfcpp::detail {

c10::Storage storage_over_mapping(const std::shared_ptr<MappedFile>& file, std::uint64_t offset,
                                  std::uint64_t nbytes, std::size_t alignment) {
  std::uint8_t* address = file->mutable_data() + offset;
  if (nbytes == 0 || reinterpret_cast<std::uintptr_t>(address) % alignment == 0) {
    // The deleter owns a reference to the mapping: the bytes stay valid while any tensor lives.
    auto* keep_alive = new std::shared_ptr<MappedFile>(file);
    c10::DataPtr data_ptr(address, keep_alive,
                          [](void* ctx) { delete static_cast<std::shared_ptr<MappedFile>*>(ctx); },
                          c10::Device(c10::DeviceType::CPU));
    return c10::Storage(c10::Storage::use_byte_size_t(), static_cast<std::size_t>(nbytes),
                        std::move(data_ptr), /*allocator=*/nullptr, /*resizable=*/false);
  }
  c10::Storage owned(c10::Storage::use_byte_size_t(), static_cast<std::size_t>(nbytes),
                     c10::GetAllocator(c10::DeviceType::CPU), /*resizable=*/false);
  std::memcpy(owned.data_ptr().get(), address, nbytes);
  return owned;
}

at::Tensor tensor_over_mapping(const std::shared_ptr<MappedFile>& file, std::uint64_t offset,
                               const std::vector<std::int64_t>& shape, c10::ScalarType type) {
  std::uint64_t numel = 1;
  for (auto d : shape) numel *= static_cast<std::uint64_t>(d);
  const std::size_t item = c10::elementSize(type);
  c10::Storage storage = storage_over_mapping(file, offset, numel * item, item);
  return at::empty({0}, at::TensorOptions().dtype(type)).set_(storage, 0, shape);
}

}  // namespace hfcpp::detail
