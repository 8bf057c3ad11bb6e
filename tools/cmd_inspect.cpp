// hfcpp inspect PATH [--json] [--variant V]: what a checkpoint holds, read from headers only.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "commands.h"
#include "hfcpp/error.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/modeling/convert.h"
#include "hfcpp/progress.h"
#include "text_format.h"

namespace hfcpp::cli {
namespace {

namespace fs = std::filesystem;

struct InspectOptions {
  std::string path;
  std::string variant;
  bool json = false;
};

struct FileSummary {
  std::string name;
  std::uint64_t bytes = 0;  // on disk
  std::size_t tensors = 0;
};

struct TensorRow {
  const TensorMeta* meta;
  std::string shares_storage_with;  // the first tensor of its storage (tied weights in a .bin)
};

struct Inspection {
  fs::path weights;  // the file or index that was read
  std::unique_ptr<TensorSource> source;
  std::optional<ShardIndex> index;
  std::vector<FileSummary> files;
  std::vector<TensorRow> tensors;
  std::uint64_t parameters = 0;  // elements of distinct storages
  std::uint64_t bytes = 0;       // bytes of distinct storages
};

bool is_index(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.size() > 11 && name.compare(name.size() - 11, 11, ".index.json") == 0;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Inspection inspect(const InspectOptions& options) {
  Inspection result;
  result.weights = resolve_weights_path(options.path, options.variant);
  result.source = open_tensor_source(result.weights);
  if (is_index(result.weights)) result.index = parse_shard_index(read_text(result.weights), result.weights.string());

  std::map<fs::path, std::size_t> file_position;
  for (const auto& file : result.source->files()) {
    file_position.emplace(file, result.files.size());
    result.files.push_back({file.filename().string(), fs::file_size(file), 0});
  }
  std::map<std::pair<fs::path, std::string>, std::string> first_of_storage;
  for (const auto& meta : result.source->tensors()) {
    TensorRow row{&meta, ""};
    ++result.files[file_position.at(meta.file)].tensors;
    bool counted = false;
    if (!meta.storage_group.empty()) {
      auto [it, first] = first_of_storage.try_emplace({meta.file, meta.storage_group}, meta.key);
      if (!first) {
        row.shares_storage_with = it->second;
        counted = true;
      }
    }
    if (!counted) {
      result.parameters += static_cast<std::uint64_t>(meta.numel());
      result.bytes += meta.nbytes;
    }
    result.tensors.push_back(std::move(row));
  }
  return result;
}

nlohmann::ordered_json to_json(const Inspection& info, const InspectOptions& options) {
  nlohmann::ordered_json out;
  out["path"] = options.path;
  out["weights"] = info.weights.string();
  out["format"] = std::string(format_name(info.source->format()));
  out["sharded"] = info.index.has_value();
  if (info.index) {
    out["index"] = {{"file", info.weights.filename().string()}, {"total_size", nullptr}};
    if (info.index->total_size) out["index"]["total_size"] = *info.index->total_size;
  } else {
    out["index"] = nullptr;
  }
  out["files"] = nlohmann::ordered_json::array();
  for (const auto& file : info.files)
    out["files"].push_back({{"name", file.name}, {"bytes", file.bytes}, {"tensors", file.tensors}});
  out["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : info.source->metadata()) out["metadata"][key] = value;
  out["tensors"] = nlohmann::ordered_json::array();
  for (const auto& row : info.tensors) {
    nlohmann::ordered_json t = {{"name", row.meta->key},
                                {"dtype", dtype_name(row.meta->dtype)},
                                {"shape", row.meta->shape},
                                {"bytes", row.meta->nbytes},
                                {"file", row.meta->file.filename().string()}};
    if (!row.shares_storage_with.empty()) t["shares_storage_with"] = row.shares_storage_with;
    out["tensors"].push_back(std::move(t));
  }
  out["totals"] = {{"tensors", info.tensors.size()}, {"parameters", info.parameters}, {"bytes", info.bytes}};
  return out;
}

void print_text(const Inspection& info, std::ostream& out) {
  const bool sharded = info.index.has_value();
  out << info.weights.string() << "\n";
  out << "format:   " << format_name(info.source->format())
      << (sharded ? ", sharded in " + std::to_string(info.files.size()) + " files" : std::string()) << "\n";
  if (sharded && info.index->total_size)
    out << "index:    total_size " << *info.index->total_size << "\n";
  if (!info.source->metadata().empty()) {
    out << "metadata:";
    for (const auto& [key, value] : info.source->metadata()) out << " " << key << "=" << value;
    out << "\n";
  }
  out << "\n";
  if (sharded) {
    TextTable files({"file", "tensors", "bytes"}, {false, true, true});
    for (const auto& file : info.files) files.add({file.name, std::to_string(file.tensors), std::to_string(file.bytes)});
    files.print(out);
    out << "\n";
  }
  std::vector<std::string> header = {"tensor", "dtype", "shape", "bytes"};
  if (sharded) header.push_back("file");
  TextTable tensors(header, {false, false, false, true, false});
  for (const auto& row : info.tensors) {
    std::vector<std::string> cells = {row.meta->key, dtype_name(row.meta->dtype), shape_text(row.meta->shape),
                                      std::to_string(row.meta->nbytes)};
    if (sharded) cells.push_back(row.meta->file.filename().string());
    if (!row.shares_storage_with.empty()) cells[0] += " (shares storage with " + row.shares_storage_with + ")";
    tensors.add(std::move(cells));
  }
  tensors.print(out);
  out << "\ntotal:    " << info.tensors.size() << " tensors, " << info.parameters << " parameters, " << info.bytes
      << " bytes (" << format_bytes(info.bytes) << ")\n";
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand(
      "inspect",
      "Show the tensors of a checkpoint (name, dtype, shape, bytes), its files, shards, safetensors metadata "
      "and totals. Reads headers only.");
  command->add_option("path", options->path,
                      "A weights file (*.safetensors, *.bin), a shard index (*.index.json) or a model folder "
                      "(model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
                      "pytorch_model.bin.index.json, first found)")
      ->required();
  command->add_option("--variant", options->variant, "In a folder, read the weights saved with this variant (e.g. fp16)");
  command->add_flag("--json", options->json, "Print JSON instead of tables");
  command->callback([options] {
    const Inspection info = inspect(*options);
    if (options->json) std::cout << to_json(info, *options).dump(2) << "\n";
    else print_text(info, std::cout);
  });
}

}  // namespace hfcpp::cli
