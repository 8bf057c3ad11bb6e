// Shared helpers for the GoogleTest suite.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "hfcpp/io/safetensors.h"

namespace hfcpp::testing {

// A file or folder under tests/data.
std::filesystem::path data_path(const std::string& relative);

// A fresh, empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& bytes);

// Loads a reference safetensors file (e.g. outputs written by Python Transformers) by name.
at::Tensor reference_tensor(const std::filesystem::path& file, const std::string& name);

// Asserts equal shape and dtype and max |a - b| <= atol.
::testing::AssertionResult tensors_close(const at::Tensor& actual, const at::Tensor& expected,
                                          double atol = 1e-5);
// Asserts equal shape, dtype and bit-identical values.
::testing::AssertionResult tensors_equal(const at::Tensor& actual, const at::Tensor& expected);

// Runs the hfcpp CLI with `args`; returns the exit code and fills stdout/stderr.
int run_cli(const std::string& args, std::string* out, std::string* err = nullptr);

}  // namespace hfcpp::testing
