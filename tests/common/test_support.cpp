#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

namespace hfcpp::testing {

std::filesystem::path data_path(const std::string& relative) {
  return std::filesystem::path(HFCPP_TEST_DATA_DIR) / relative;
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("hfcpp-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

at::Tensor reference_tensor(const std::filesystem::path& file, const std::string& name) {
  return SafetensorsFile::open(file).tensor(name).clone();
}

::testing::AssertionResult tensors_close(const at::Tensor& actual, const at::Tensor& expected,
                                          double atol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " != expected " << expected.sizes();
  if (actual.scalar_type() != expected.scalar_type())
    return ::testing::AssertionFailure() << "dtype " << actual.scalar_type() << " != expected "
                                         << expected.scalar_type();
  if (actual.numel() == 0) return ::testing::AssertionSuccess();
  const double diff =
      (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
  if (!(diff <= atol))
    return ::testing::AssertionFailure() << "max abs diff " << diff << " > " << atol;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult tensors_equal(const at::Tensor& actual, const at::Tensor& expected) {
  auto close = tensors_close(actual, expected, 0.0);
  if (!close) return close;
  if (!at::equal(actual.cpu(), expected.cpu()))
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

int run_cli(const std::string& args, std::string* out, std::string* err) {
  TempDir dir;
  const auto out_path = dir / "stdout";
  const auto err_path = dir / "stderr";
  const std::string command = std::string(HFCPP_CLI_PATH) + " " + args + " >" + out_path.string() +
                              " 2>" + err_path.string();
  const int status = std::system(command.c_str());
  if (out) *out = read_file(out_path);
  if (err) *err = read_file(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace hfcpp::testing
