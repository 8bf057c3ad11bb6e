#include "mapped_tensor.h"

#include <ATen/ATen.h>

#include <cstring>

namespace hfcpp::detail {
namespace {

// The deleter of storages over a mapping: it also marks them, for drop_mapped_pages.
void release_mapping(void* ctx) { delete static_cast<std::shared_ptr<MappedFile>*>(ctx); }

}  // namespace

c10::Storage storage_over_mapping(const std::shared_ptr<MappedFile>& file, std::uint64_t offset,
                                  std::uint64_t nbytes, std::size_t alignment) {
  std::uint8_t* address = file->mutable_data() + offset;
  if (nbytes == 0 || reinterpret_cast<std::uintptr_t>(address) % alignment == 0) {
    // The deleter owns a reference to the mapping: the bytes stay valid while any tensor lives.
    auto* keep_alive = new std::shared_ptr<MappedFile>(file);
    c10::DataPtr data_ptr(address, keep_alive, &release_mapping, c10::Device(c10::DeviceType::CPU));
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

void drop_mapped_pages(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage() || !t.device().is_cpu()) return;
  const c10::DataPtr& data = t.storage().data_ptr();
  if (data.get_deleter() != &release_mapping) return;
  const MappedFile& file = **static_cast<std::shared_ptr<MappedFile>*>(data.get_context());
  const auto* start = static_cast<const std::uint8_t*>(t.data_ptr());
  const auto nbytes = static_cast<std::size_t>(t.numel()) * t.element_size();
  if (start < file.data() || start + nbytes > file.data() + file.size() || !t.is_contiguous()) return;
  file.drop_pages(static_cast<std::size_t>(start - file.data()), nbytes);
}

}  // namespace hfcpp::detail
