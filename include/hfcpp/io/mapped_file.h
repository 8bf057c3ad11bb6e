// A read-only file mapped into memory, shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace hfcpp {

// Maps a whole file privately (copy-on-write): tensors that alias the mapping may be written to
// without ever touching the file, and the mapping lives as long as the last tensor holding it.
class MappedFile {
 public:
  // Throws FileError naming the path when the file cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::uint8_t* mutable_data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Hints the kernel to read [offset, offset + length) ahead (madvise WILLNEED).
  void prefetch(std::size_t offset, std::size_t length) const;

  // Unmaps the whole pages inside [offset, offset + length) from this process (madvise DONTNEED):
  // they stay in the page cache and an access maps them again, but they leave the process's RSS.
  // Bytes written through the mapping (copy-on-write) would revert to the file's, so callers drop
  // only bytes nothing wrote: from_pretrained, right after copying a tensor out.
  void drop_pages(std::size_t offset, std::size_t length) const;

 private:
  MappedFile(std::filesystem::path path, std::uint8_t* data, std::size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::filesystem::path path_;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace hfcpp
