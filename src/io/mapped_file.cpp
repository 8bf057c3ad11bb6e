#include "hfcpp/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "hfcpp/error.h"
#include "../util/huge_pages.h"

namespace hfcpp {
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
    void* mapped = detail::map_at_huge_page_boundary(size, fd);
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

void MappedFile::drop_pages(std::size_t offset, std::size_t length) const {
  if (data_ == nullptr || offset >= size_) return;
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t start = (offset + page - 1) / page * page;  // whole pages only: neighbours keep theirs
  const std::size_t end = std::min(size_, offset + length) / page * page;
  if (end > start) ::madvise(data_ + start, end - start, MADV_DONTNEED);
}

}  // namespace hfcpp
