// Writes a file with large unbuffered writes straight from tensor memory. A writer that is
// destroyed without close() removes its file, so an exception never leaves a half-written file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace hfcpp {

class FileWriter {
 public:
  // Creates or truncates `path`. Throws FileError.
  explicit FileWriter(std::filesystem::path path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // The tensor's bytes in row-major order (copied to contiguous CPU memory first if needed).
  void write_tensor(const at::Tensor& tensor);
  // Overwrites bytes already written at `offset` (e.g. a size or CRC known only afterwards).
  void patch(std::uint64_t offset, const void* data, std::size_t size);
  std::uint64_t position() const { return position_; }
  const std::filesystem::path& path() const { return path_; }

  // Flushes to the OS and closes; the file is kept. Throws FileError if the OS reports an error.
  void close();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t position_ = 0;
};

// The bytes of `tensor` as a contiguous CPU tensor (the tensor itself when it already is one).
at::Tensor contiguous_cpu(const at::Tensor& tensor);

}  // namespace hfcpp
