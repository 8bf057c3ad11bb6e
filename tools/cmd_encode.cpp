// hfcpp encode MODEL TEXT [--no-special-tokens] [--json]: the token ids the model's tokenizer
// gives TEXT, as Transformers' tokenizer(TEXT)["input_ids"].
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "commands.h"
#include "model_args.h"

namespace hfcpp::cli {
namespace {

struct EncodeArguments {
  LoadArguments load;
  std::string text;
  bool no_special_tokens = false;
  bool json = false;
};

void run(const EncodeArguments& args) {
  const Tokenizer tokenizer = *load_tokenizer(model_folder(args.load.model), /*required=*/true);
  const Encoding encoding = tokenizer.encode(args.text, !args.no_special_tokens);
  if (!args.json) {
    // Comma-separated: the form --input-ids and `hfcpp decode` take.
    std::string line;
    for (std::size_t i = 0; i < encoding.ids.size(); ++i) line += (i ? "," : "") + std::to_string(encoding.ids[i]);
    std::cout << line << "\n";
    return;
  }
  nlohmann::ordered_json out;
  out["ids"] = encoding.ids;
  out["tokens"] = encoding.tokens;
  // Character offsets as Python reports them (the library works in bytes).
  nlohmann::json offsets = nlohmann::json::array();
  for (const auto& offset : to_char_offsets(args.text, encoding.offsets)) offsets.push_back({offset.start, offset.end});
  out["offsets"] = offsets;
  out["special_tokens_mask"] = encoding.special_tokens_mask;
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_encode_command(CLI::App& app) {
  auto args = std::make_shared<EncodeArguments>();
  CLI::App* command = app.add_subcommand(
      "encode", "Tokenize TEXT with the model folder's tokenizer and print the ids, comma-separated");
  add_model_argument(*command, args->load, /*load_options=*/false);
  command->add_option("text", args->text, "The text to encode")->required();
  command->add_flag("--no-special-tokens", args->no_special_tokens,
                    "Do not add the special tokens ([CLS]/[SEP], <s>, ...) that the tokenizer adds by default");
  command->add_flag("--json", args->json, "Print ids, tokens, character offsets and the special tokens mask as JSON");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
