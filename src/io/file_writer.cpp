#include "hfcpp/io/file_writer.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hfcpp/error.h"

namespace hfcpp {

FileWriter::FileWriter(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw FileError("cannot create " + path_.string() + ": " + std::strerror(errno));
}

FileWriter::~FileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
}

void FileWriter::write(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    // Linux caps one write at ~2 GiB; loop over chunks.
    const std::size_t chunk = std::min<std::size_t>(size, std::size_t{1} << 30);
    const ssize_t n = ::write(fd_, p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw FileError("cannot write " + path_.string() + ": " + std::strerror(errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    position_ += static_cast<std::uint64_t>(n);
  }
}

void FileWriter::write_tensor(const at::Tensor& tensor) {
  const at::Tensor bytes = contiguous_cpu(tensor);
  write(bytes.data_ptr(), bytes.numel() * bytes.element_size());
}

void FileWriter::patch(std::uint64_t offset, const void* data, std::size_t size) {
  const ssize_t n = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
  if (n != static_cast<ssize_t>(size))
    throw FileError("cannot write " + path_.string() + ": " + std::strerror(errno));
}

void FileWriter::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    throw FileError("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
}

at::Tensor contiguous_cpu(const at::Tensor& tensor) {
  at::Tensor out = tensor;
  if (!out.device().is_cpu()) out = out.to(at::kCPU);
  return out.is_contiguous() ? out : out.contiguous();
}

}  // namespace hfcpp
