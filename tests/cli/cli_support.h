// Helpers for running the hfcpp tool in tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace hfcpp::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `hfcpp <args>`; arguments are shell-quoted, so paths with spaces are safe.
CliResult cli(const std::vector<std::string>& args);

// The lines of `text`, each with runs of spaces collapsed to one (table columns are padded).
std::vector<std::string> squeezed_lines(const std::string& text);

// Files (not folders) directly in `folder`, sorted; folders are listed with a trailing '/'.
std::vector<std::string> folder_listing(const std::filesystem::path& folder);

// A failed run as the tool reports one: non-zero exit, nothing on stdout, and exactly the line
// "hfcpp: error: <message>" on stderr.
::testing::AssertionResult is_one_line_error(const CliResult& result, const std::string& message);
// The same, for messages whose end lists things that grow (registered classes, ...).
::testing::AssertionResult is_one_line_error_starting(const CliResult& result, const std::string& message_start);

}  // namespace hfcpp::testing
