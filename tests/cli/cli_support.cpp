#include "cli_support.h"

#include <algorithm>
#include <sstream>

#include "test_support.h"

namespace hfcpp::testing {

namespace {
std::string shell_quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}
}  // namespace

CliResult cli(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& arg : args) command += (command.empty() ? "" : " ") + shell_quote(arg);
  CliResult result;
  result.exit_code = run_cli(command, &result.out, &result.err);
  return result;
}

std::vector<std::string> squeezed_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::string squeezed;
    for (char c : line)
      if (!(c == ' ' && !squeezed.empty() && squeezed.back() == ' ')) squeezed += c;
    while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
    lines.push_back(squeezed);
  }
  return lines;
}

std::vector<std::string> folder_listing(const std::filesystem::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    names.push_back(entry.path().filename().string() + (entry.is_directory() ? "/" : ""));
  std::sort(names.begin(), names.end());
  return names;
}

::testing::AssertionResult is_one_line_error(const CliResult& result, const std::string& message) {
  const std::string expected = "hfcpp: error: " + message + "\n";
  if (result.exit_code == 0 || !result.out.empty() || result.err != expected)
    return ::testing::AssertionFailure() << "exit code " << result.exit_code << ", stdout \"" << result.out
                                         << "\", stderr \"" << result.err << "\"; expected stderr \"" << expected << "\"";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_one_line_error_starting(const CliResult& result, const std::string& message_start) {
  const std::string start = "hfcpp: error: " + message_start;
  if (result.exit_code == 0 || !result.out.empty() || result.err.rfind(start, 0) != 0 ||
      std::count(result.err.begin(), result.err.end(), '\n') != 1 || result.err.back() != '\n')
    return ::testing::AssertionFailure() << "exit code " << result.exit_code << ", stdout \"" << result.out
                                         << "\", stderr \"" << result.err << "\"; expected one line starting \"" << start << "\"";
  return ::testing::AssertionSuccess();
}

}  // namespace hfcpp::testing
