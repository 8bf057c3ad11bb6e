// Every command answers --help with its usage on stdout and exit code 0; the top-level help lists
// them all.
#include <gtest/gtest.h>

#include "cli_support.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::cli;

const std::vector<std::string> kCommands = {"inspect", "convert", "demo",   "generate",
                                            "forward", "info",    "encode", "decode"};

TEST(Help, EveryCommand) {
  for (const auto& command : kCommands) {
    const auto result = cli({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_EQ(result.err, "") << command;
    EXPECT_NE(result.out.find("Usage: hfcpp " + command + " [OPTIONS]"), std::string::npos) << result.out;
  }
}

TEST(Help, TopLevelListsEveryCommand) {
  const auto result = cli({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const auto& command : kCommands) EXPECT_NE(result.out.find("\n  " + command + " "), std::string::npos) << command;
}

TEST(Help, UnknownCommandIsOneLineError) {
  const auto result = cli({"frobnicate"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err.rfind("hfcpp: error: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

}  // namespace
}  // namespace hfcpp
