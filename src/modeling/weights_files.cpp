#include "hfcpp/modeling/weights_files.h"

#include <fstream>
#include <vector>

#include "hfcpp/error.h"
#include "hfcpp/modeling/sharding.h"

namespace hfcpp {

bool is_git_lfs_pointer(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(40, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head.rfind("version https://git-lfs.github.com/spec/", 0) == 0;
}

std::filesystem::path resolve_weights(const std::filesystem::path& folder, const WeightsLookup& lookup) {
  if (!std::filesystem::is_directory(folder))
    throw FileError(folder.string() + " is not a folder (from_pretrained loads local model folders)");
  const std::filesystem::path dir = lookup.subfolder.empty() ? folder : folder / lookup.subfolder;
  std::vector<std::string> candidates;
  if (lookup.use_safetensors != false) {
    candidates.push_back(add_variant(kSafeWeightsName, lookup.variant));
    candidates.push_back(add_variant(kSafeWeightsIndexName, lookup.variant));
  }
  if (lookup.use_safetensors != true) {
    candidates.push_back(add_variant(kWeightsName, lookup.variant));
    candidates.push_back(add_variant(kWeightsIndexName, lookup.variant));
  }
  for (const auto& name : candidates) {
    const auto path = dir / name;
    if (!std::filesystem::is_regular_file(path)) continue;
    if (is_git_lfs_pointer(path))
      throw FileError(path.string() + " is a Git LFS pointer, not the weights: the repository was cloned "
                      "without git-lfs. Run `git lfs install && git lfs pull` in it, or download the files again.");
    return path;
  }
  std::string looked;
  for (const auto& name : candidates) looked += (looked.empty() ? "" : ", ") + name;
  std::string hint;
  if (lookup.variant.empty()) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("model.", 0) == 0 && name.size() > 18 && name.find(".safetensors") != std::string::npos)
        hint = " (found " + name + ": pass the variant, e.g. variant=\"" +
               name.substr(6, name.find_first_of(".-", 6) - 6) + "\")";
    }
  }
  throw FileError("no weights found in " + dir.string() + ": looked for " + looked + hint);
}

}  // namespace hfcpp
