// Tensors over bytes of a mapped file (internal to src/io).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "hfcpp/io/mapped_file.h"

namespace hfcpp::detail {

// A CPU tensor of `type` and `shape` over the mapping at `offset`. Zero-copy when the address is
// aligned for the element type (the tensor then holds the mapping alive); an owned copy otherwise,
// because libtorch kernels may assume natural alignment.
at::Tensor tensor_over_mapping(const std::shared_ptr<MappedFile>& file, std::uint64_t offset,
                               const std::vector<std::int64_t>& shape, c10::ScalarType type);

// An untyped byte storage over [offset, offset + nbytes) of the mapping (zero-copy when
// `alignment` divides the address, else copied into fresh memory).
c10::Storage storage_over_mapping(const std::shared_ptr<MappedFile>& file, std::uint64_t offset,
                                  std::uint64_t nbytes, std::size_t alignment);

// When t views a mapped file, drops the whole pages under it from the process (MappedFile::
// drop_pages); a no-op for any other tensor. For a loader that has just copied t out.
void drop_mapped_pages(const at::Tensor& t);

}  // namespace hfcpp::detail
