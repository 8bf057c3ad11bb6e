// The hfcpp command-line tool.
#include <CLI/CLI.hpp>

#include <iostream>

#include "hfcpp/error.h"

int main(int argc, char** argv) {
  CLI::App app{"hfcpp: load, inspect, convert and run Hugging Face checkpoints"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
