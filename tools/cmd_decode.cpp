// hfcpp decode MODEL IDS [--skip-special-tokens]: the text of token ids, as Transformers'
// tokenizer.decode(ids); "1,2;3,4" decodes two sequences, one line each.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "commands.h"
#include "hfcpp/error.h"
#include "model_args.h"

namespace hfcpp::cli {
namespace {

struct DecodeArguments {
  LoadArguments load;
  std::string ids;
  bool skip_special_tokens = false;
};

void run(const DecodeArguments& args) {
  const Tokenizer tokenizer = *load_tokenizer(model_folder(args.load.model), /*required=*/true);
  const auto rows = parse_id_rows(args.ids, "IDS");
  // The library skips unknown ids as the Rust tokenizers do; on the command line a wrong id is
  // more likely a typo, so say so.
  for (const auto& row : rows)
    for (const std::int64_t id : row)
      if (!tokenizer.id_to_token(id))
        throw ValueError("IDS: " + std::to_string(id) + " is not a token id of this tokenizer (" +
                         std::to_string(tokenizer.size()) + " tokens)");
  for (const auto& row : rows) std::cout << tokenizer.decode(row, args.skip_special_tokens) << "\n";
}

}  // namespace

void add_decode_command(CLI::App& app) {
  auto args = std::make_shared<DecodeArguments>();
  CLI::App* command = app.add_subcommand(
      "decode", "Turn token ids back into text with the model folder's tokenizer (one line per sequence)");
  add_model_argument(*command, args->load, /*load_options=*/false);
  command->add_option("ids", args->ids, "Token ids, comma-separated; ';' separates sequences: \"1,2,3;4,5\"")
      ->required();
  command->add_flag("--skip-special-tokens", args->skip_special_tokens, "Leave out special tokens ([CLS], </s>, ...)");
  command->callback([args] { run(*args); });
}

}  // namespace hfcpp::cli
