#include "huge_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace hfcpp::detail {

// Why 2 MiB matters: the kernel maps a 2 MiB folio with one entry only where the address (and,
// for files, the file offset) is a multiple of 2 MiB. With 4 KiB entries, first touches of a 2 GB
// checkpoint cost ~500k faults, which is most of a load on virtual machines whose page tables the
// host shadows (40x measured here); fresh anonymous memory faults in about twice as fast.
void* map_at_huge_page_boundary(std::size_t size, int fd) {
  const int flags = MAP_PRIVATE | (fd < 0 ? MAP_ANONYMOUS : 0);
  void* reserved = size < kHugePageBytes
                       ? MAP_FAILED
                       : ::mmap(nullptr, size + kHugePageBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  const auto start = reinterpret_cast<std::uintptr_t>(reserved);
  const std::uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* mapped = ::mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
  if (mapped == MAP_FAILED) {
    const int err = errno;
    ::munmap(reserved, size + kHugePageBytes);
    errno = err;
    return MAP_FAILED;
  }
  // Give back the reservation around the mapping.
  if (aligned > start) ::munmap(reserved, aligned - start);
  const std::uintptr_t end = aligned + size, reserved_end = start + size + kHugePageBytes;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t end_page = (end + page - 1) / page * page;
  if (reserved_end > end_page) ::munmap(reinterpret_cast<void*>(end_page), reserved_end - end_page);
  // File pages read through this mapping come in as 2 MiB folios where the file system supports
  // them (ext4 and XFS on recent kernels); anonymous memory gets transparent huge pages where they
  // are enabled for madvise (Debian's default). An older kernel ignores or refuses the hint.
  ::madvise(mapped, size, MADV_HUGEPAGE);
  return mapped;
}

}  // namespace hfcpp::detail
