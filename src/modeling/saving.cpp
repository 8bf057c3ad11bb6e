// save_pretrained: state dict -> drop tied aliases -> shard plan -> shards to temporary files ->
// rename into place -> index -> config files -> remove stale shards of an earlier save.
#include <ATen/ATen.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/logging.h"
#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/modeling/sharding.h"

#include "hfcpp/io/torch_bin.h"

namespace hfcpp {
namespace {

// Tied-weight key patterns of the model and of every PreTrainedModel inside it, prefixed.
std::vector<std::string> tied_weight_patterns(PreTrainedModel& model) {
  std::vector<std::string> patterns;
  for (const auto& [name, module] : nn::named_modules(model))
    if (auto* sub = dynamic_cast<PreTrainedModel*>(module))
      for (const auto& key : sub->class_info().tied_weights_keys)
        patterns.push_back(name.empty() ? key : name + "." + key);
  return patterns;
}

struct Area {
  const void* storage;
  std::uintptr_t begin;
  std::uintptr_t end;
};

Area area_of(const at::Tensor& t) {
  const auto begin = reinterpret_cast<std::uintptr_t>(t.data_ptr());
  std::uintptr_t end = begin;
  if (t.numel() > 0) {
    std::int64_t last = 0;
    for (std::int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    end = begin + static_cast<std::uintptr_t>((last + 1) * t.element_size());
  }
  return {t.storage().unsafeGetStorageImpl(), begin, end};
}

// safetensors cannot alias: keep one name per shared tensor as Transformers does (tied keys are
// the ones dropped), clone disjoint views of one storage, refuse partial overlaps.
StateDict remove_aliases(const StateDict& state_dict, PreTrainedModel& model) {
  std::map<const void*, std::vector<std::string>> by_storage;
  for (const auto& item : state_dict) by_storage[item.value().storage().unsafeGetStorageImpl()].push_back(item.key());
  const auto patterns = tied_weight_patterns(model);
  std::set<std::string> drop;
  std::set<std::string> clone;
  std::vector<std::string> conflicts;
  for (auto& [storage, names] : by_storage) {
    if (names.size() < 2) continue;
    // Declared tied keys are dropped, all but one of the group at most.
    std::set<std::string> declared;
    std::size_t found = 0;
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    for (const auto& name : sorted) {
      bool match = false;
      for (const auto& pattern : patterns)
        if (std::regex_search(name, std::regex(pattern))) match = true;
      if (match && ++found < names.size()) declared.insert(name);
    }
    // Split the group into clusters of overlapping areas.
    std::vector<std::pair<Area, std::string>> areas;
    for (const auto& name : names) areas.emplace_back(area_of(state_dict[name]), name);
    std::sort(areas.begin(), areas.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first.begin, a.first.end, a.second) < std::tie(b.first.begin, b.first.end, b.second);
    });
    std::vector<std::vector<std::pair<Area, std::string>>> clusters;
    std::uintptr_t last_end = 0;
    for (const auto& entry : areas) {
      if (clusters.empty() || entry.first.begin >= last_end) clusters.emplace_back();
      clusters.back().push_back(entry);
      last_end = std::max(last_end, entry.first.end);
    }
    for (const auto& cluster : clusters) {
      if (cluster.size() == 1) {
        clone.insert(cluster[0].second);
        continue;
      }
      const bool identical = std::all_of(cluster.begin(), cluster.end(), [&](const auto& e) {
        return e.first.begin == cluster[0].first.begin && e.first.end == cluster[0].first.end;
      });
      std::vector<std::string> undeclared;
      for (const auto& [area, name] : cluster) {
        if (identical && declared.count(name)) drop.insert(name);
        else undeclared.push_back(name);
      }
      if (!identical || undeclared.size() > 1) {
        std::string group;
        for (const auto& [area, name] : cluster) group += (group.empty() ? "" : ", ") + name;
        conflicts.push_back("{" + group + "}");
      }
    }
  }
  if (!conflicts.empty()) {
    std::string list;
    for (const auto& c : conflicts) list += " " + c;
    throw ValueError("cannot save these tensors to safetensors: they share memory but are not declared as tied "
                     "weights of " + model.class_info().name + ":" + list +
                     ". Save with safe_serialization = false (PyTorch .bin keeps sharing), or clone one of them "
                     "so each has its own memory.");
  }
  StateDict out;
  for (const auto& item : state_dict) {
    if (drop.count(item.key())) continue;
    const bool single = by_storage[item.value().storage().unsafeGetStorageImpl()].size() < 2;
    out.insert(item.key(), (!single && clone.count(item.key())) ? item.value().clone() : item.value());
  }
  return out;
}

std::string temp_name(const std::string& name) { return ".tmp-" + std::to_string(::getpid()) + "-" + name; }

bool is_shard_of(const std::string& file, const std::string& weights_name) {
  auto strip = [](std::string s) {
    for (const char* ext : {".safetensors", ".bin"}) {
      auto at = s.find(ext);
      if (at != std::string::npos) s.erase(at, std::string(ext).size());
    }
    return s;
  };
  static const std::regex shard(R"((.*?)-\d{5}-of-\d{5})");
  return file.rfind(strip(weights_name), 0) == 0 && std::regex_match(strip(file), shard);
}

}  // namespace

void PreTrainedModel::save_pretrained(const std::filesystem::path& folder, const SaveOptions& options) {
  if (std::filesystem::is_regular_file(folder))
    throw FileError("save_pretrained needs a folder, but " + folder.string() + " is a file");
  std::filesystem::create_directories(folder);

  config_->set_torch_dtype(dtype());
  config_->set_architectures({info_->name});

  StateDict state_dict = options.state_dict ? *options.state_dict : this->state_dict();
  for (const auto& key : info_->keys_to_ignore_on_save)
    if (state_dict.contains(key)) state_dict.erase(key);
  if (options.safe_serialization) state_dict = remove_aliases(state_dict, *this);

  std::string weights_name(options.safe_serialization ? kSafeWeightsName : kWeightsName);
  weights_name = add_variant(weights_name, options.variant);
  std::string pattern = weights_name;
  const std::string ext = options.safe_serialization ? ".safetensors" : ".bin";
  pattern.replace(pattern.rfind(ext), ext.size(), "{suffix}" + ext);
  const ShardPlan plan = split_state_dict_into_shards(state_dict, parse_size(options.max_shard_size), pattern);
  if (!options.is_main_process) return;

  // Everything goes to temporary names first; nothing replaces the old checkpoint until all of
  // the new one is on disk.
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> renames;
  struct Cleanup {
    std::vector<std::pair<std::filesystem::path, std::filesystem::path>>* renames;
    bool committed = false;
    ~Cleanup() {
      if (committed) return;
      std::error_code ignored;
      for (const auto& [tmp, final_path] : *renames) std::filesystem::remove(tmp, ignored);
    }
  } cleanup{&renames};

  for (const auto& [file, keys] : plan.shards) {
    const auto tmp = folder / temp_name(file);
    renames.emplace_back(tmp, folder / file);
    if (options.safe_serialization) {
      NamedTensors tensors;
      for (const auto& key : keys) tensors.emplace_back(key, state_dict[key]);
      save_safetensors(tensors, tmp, std::map<std::string, std::string>{{"format", "pt"}});
    } else {
      StateDict shard;
      for (const auto& key : keys) shard.insert(key, state_dict[key]);
      save_torch_bin(shard, tmp, {.ordered_dict = false, .final_name = file});
    }
  }
  const std::string index_name =
      add_variant(options.safe_serialization ? kSafeWeightsIndexName : kWeightsIndexName, options.variant);
  auto write_text = [&](const std::string& name, const std::string& text) {
    const auto tmp = folder / temp_name(name);
    renames.emplace_back(tmp, folder / name);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw FileError("cannot write " + tmp.string());
  };
  if (plan.is_sharded()) write_text(index_name, shard_index_json(plan));
  write_text("config.json", config_->to_json_string());
  if (can_generate() && generation_config) write_text("generation_config.json", generation_config->to_json_string());

  for (const auto& [tmp, final_path] : renames) std::filesystem::rename(tmp, final_path);
  cleanup.committed = true;

  // Files of an earlier save that this one replaces: stale shards (Transformers' rule), and also
  // the single file or index of the other layout, which would otherwise shadow the new weights.
  std::set<std::string> written;
  for (const auto& [file, keys] : plan.shards) written.insert(file);
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || written.count(name)) continue;
    const bool stale_shard = is_shard_of(name, weights_name);
    const bool stale_single = plan.is_sharded() && name == weights_name;
    const bool stale_index = !plan.is_sharded() && name == index_name;
    if (stale_shard || stale_single || stale_index) std::filesystem::remove(entry.path());
  }
  logging::info("Model weights saved in " + (folder / (plan.is_sharded() ? index_name : weights_name)).string());
}

}  // namespace hfcpp
