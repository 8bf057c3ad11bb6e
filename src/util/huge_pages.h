// Internal: mappings placed at 2 MiB boundaries, so the kernel can back them with 2 MiB pages
// (page-cache folios for files, transparent huge pages for anonymous memory) and map each with
// one page-table entry instead of 512.
#pragma once

#include <cstddef>

namespace hfcpp::detail {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE) of `size` bytes of `fd`, or of anonymous memory when
// fd is -1, at an address that is a multiple of 2 MiB, with MADV_HUGEPAGE. Mappings under 2 MiB
// are placed wherever mmap puts them. Returns MAP_FAILED with errno set on failure; release with
// munmap(address, size).
void* map_at_huge_page_boundary(std::size_t size, int fd);

}  // namespace hfcpp::detail
