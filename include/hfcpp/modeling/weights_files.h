// Finding the weights of a checkpoint folder the way Transformers does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace hfcpp {

struct WeightsLookup {
  std::string variant;
  std::string subfolder;
  std::optional<bool> use_safetensors;  // true: only safetensors; false: only .bin
};

// model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json
// (with the variant inserted), in that order. Throws FileError listing what was looked for, and
// diagnoses Git LFS pointer files (a clone made without git-lfs).
std::filesystem::path resolve_weights(const std::filesystem::path& folder, const WeightsLookup& lookup = {});

// True when the file is a Git LFS pointer ("version https://git-lfs...") instead of the data.
bool is_git_lfs_pointer(const std::filesystem::path& file);

}  // namespace hfcpp
