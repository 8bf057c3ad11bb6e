// hfcpp convert SRC DST [--dtype D] [--max-shard-size S] [--format safetensors|bin] [--variant V]
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "commands.h"
#include "hfcpp/dtype.h"
#include "hfcpp/modeling/convert.h"
#include "hfcpp/progress.h"

namespace hfcpp::cli {
namespace {

struct ConvertArguments {
  std::string source;
  std::string destination;
  std::string dtype;
  std::string max_shard_size = "5GB";
  std::string format = "safetensors";
  std::string variant;
  std::string source_variant;
};

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

void run(const ConvertArguments& args) {
  ConvertOptions options;
  if (!args.dtype.empty()) options.torch_dtype = parse_torch_dtype(args.dtype);
  options.max_shard_size = parse_size(args.max_shard_size);
  options.format = args.format == "bin" ? CheckpointFormat::kTorchBin : CheckpointFormat::kSafetensors;
  options.variant = args.variant;
  options.source_variant = args.source_variant;

  const ConvertResult result = convert_checkpoint(args.source, args.destination, options);
  std::cout << "read    " << result.source.string() << "\n";
  std::cout << "wrote   " << join(result.weights_files);
  if (!result.index_file.empty()) std::cout << " + " << result.index_file;
  std::cout << " (" << result.tensor_count << " tensors, " << format_bytes(result.total_size) << ") to "
            << args.destination << "\n";
  if (!result.copied_files.empty()) std::cout << "copied  " << join(result.copied_files) << "\n";
  if (!result.dropped_aliases.empty())
    std::cout << "tied    " << join(result.dropped_aliases) << " (not stored: same tensor as another)\n";
  if (!result.removed_files.empty()) std::cout << "removed " << join(result.removed_files) << " (earlier save)\n";
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<ConvertArguments>();
  CLI::App* command = app.add_subcommand(
      "convert",
      "Write a checkpoint in another dtype, shard size, format or variant, under Transformers' file names. "
      "Tensors are streamed, so memory stays around one shard; files appear in DST only once all are "
      "complete. When SRC is a folder its other files (config.json, tokenizer files, ...) are copied, "
      "config.json with torch_dtype updated.");
  command->add_option("source", args->source, "A weights file, a shard index (*.index.json) or a model folder")
      ->required();
  command->add_option("destination", args->destination, "The folder to write (created if needed)")->required();
  command->add_option("--dtype", args->dtype,
                      "Cast floating-point tensors to this dtype (float32, bfloat16/bf16, float16/fp16, float64); "
                      "integer and bool tensors keep theirs");
  command->add_option("--max-shard-size", args->max_shard_size,
                      "Largest shard, e.g. 5GB (the default; decimal units as in Transformers), 500MB, 2GiB, 20000")
      ->capture_default_str();
  command->add_option("--format", args->format, "Output format")
      ->check(CLI::IsMember({"safetensors", "bin"}))
      ->capture_default_str();
  command->add_option("--variant", args->variant, "Name the output files with this variant (model.<V>.safetensors)");
  command->add_option("--source-variant", args->source_variant,
                      "When SRC is a folder, read the weights saved with this variant");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
