// The hfcpp command-line tool.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <iostream>
#include <string>

#include "commands.h"
#include "hfcpp/error.h"

namespace {

// Errors are one line: the first thing a user reads, and easy to grep in a log.
std::string one_line(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  for (auto& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}

int fail(const std::string& message, int code = 1) {
  std::cerr << "hfcpp: error: " << one_line(message) << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hfcpp: load, inspect, convert and run Hugging Face checkpoints", "hfcpp"};
  app.set_version_flag("--version", std::string("hfcpp ") + HFCPP_VERSION);
  app.require_subcommand(1);
  hfcpp::cli::add_inspect_command(app);
  hfcpp::cli::add_convert_command(app);
  hfcpp::cli::add_demo_command(app);
  hfcpp::cli::add_generate_command(app);
  hfcpp::cli::add_forward_command(app);
  hfcpp::cli::add_info_command(app);
  hfcpp::cli::add_encode_command(app);
  hfcpp::cli::add_decode_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const auto used = app.get_subcommands();
    const std::string help = used.empty() ? "hfcpp --help" : "hfcpp " + used.back()->get_name() + " --help";
    return fail(std::string(e.what()) + " (see " + help + ")", e.get_exit_code() != 0 ? e.get_exit_code() : 2);
  } catch (const hfcpp::Error& e) {
    return fail(e.what());
  } catch (const c10::Error& e) {
    return fail(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
