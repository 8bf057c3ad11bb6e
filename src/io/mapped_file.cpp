#include "hfcpp/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "hfcpp/error.h"

namespace hfcpp {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Maps `size` bytes of fd privately at an address that is a multiple of 2 MiB. The kernel maps a
// 2 MiB page-cache folio with one page-table entry only where file offset and address agree modulo
// 2 MiB; with 4 KiB entries, first touches of a 2 GB checkpoint cost ~500k faults, which is most
// of a load on virtual machines whose page tables are shadowed by the host (40x measured here).
void* map_aligned(int fd, std::size_t size) {
  void* reserved = size < kHugePage ? MAP_FAILED
                                    : ::mmap(nullptr, size + kHugePage, PROT_NONE,
                                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserved == MAP_FAILED) return ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const auto start = reinterpret_cast<std::uintptr_t>(reserved);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  void* mapped = ::mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (mapped == MAP_FAILED) {
    const int err = errno;
    ::munmap(reserved, size + kHugePage);
    errno = err;
    return MAP_FAILED;
  }
  // Give back the reservation around the mapping.
  if (aligned > start) ::munmap(reserved, aligned - start);
  const std::uintptr_t end = aligned + size, reserved_end = start + size + kHugePage;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const std::uintptr_t end_page = (end + page - 1) / page * page;
  if (reserved_end > end_page) ::munmap(reinterpret_cast<void*>(end_page), reserved_end - end_page);
  // Pages this mapping reads from disk come in as 2 MiB folios where the file system supports
  // them (ext4 and XFS on recent kernels), so this and later loads map them 2 MiB at a time. An
  // older kernel ignores or refuses the hint; either is fine.
  ::madvise(mapped, size, MADV_HUGEPAGE);
  return mapped;
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw FileError("cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError("cannot map " + path.string() + ": not a regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  std::uint8_t* data = nullptr;
  if (size > 0) {
    // Private + writable: parameters that alias the file may be modified in place (copy-on-write)
    // and the file stays untouched.
    void* mapped = map_aligned(fd, size);
    if (mapped == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw FileError("cannot map " + path.string() + ": " + std::strerror(err));
    }
    data = static_cast<std::uint8_t*>(mapped);
  }
  ::close(fd);  // the mapping keeps the file alive
  return std::shared_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

void MappedFile::prefetch(std::size_t offset, std::size_t length) const {
  if (data_ == nullptr || offset >= size_) return;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t start = offset / page * page;
  const std::size_t end = std::min(size_, offset + length);
  ::madvise(data_ + start, end - start, MADV_WILLNEED);
}

}  // namespace hfcpp
