// The concrete TensorSources (internal to src/io; users call open_tensor_source).
#pragma once

#include <filesystem>
#include <memory>

#include "hfcpp/io/tensor_source.h"

namespace hfcpp::detail {

std::unique_ptr<TensorSource> open_safetensors_source(const std::filesystem::path& path);
std::unique_ptr<TensorSource> open_torch_bin_source(const std::filesystem::path& path);
std::unique_ptr<TensorSource> open_sharded_source(const std::filesystem::path& index_path);

}  // namespace hfcpp::detail
