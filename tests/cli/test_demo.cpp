// `hfcpp demo`: the main job a new user runs first, from the bundled model only.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli_support.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::cli;
using testing::squeezed_lines;

TEST(Demo, TheTrainedGpt2AnswersAndTheLlamaRoundTrips) {
  const auto result = cli({"demo"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = squeezed_lines(result.out);
  const auto has = [&](const std::string& line) { return std::find(lines.begin(), lines.end(), line) != lines.end(); };
  EXPECT_TRUE(has(" question: what is sally synthetic favourite colour?")) << result.out;
  EXPECT_TRUE(has(" prompt ids: 12 tokens")) << result.out;
  EXPECT_TRUE(has(" => correct: sally synthetic's favourite colour is 'red'")) << result.out;
  const auto answer = std::find_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind(" answer: ", 0) == 0; });
  ASSERT_NE(answer, lines.end()) << result.out;
  EXPECT_EQ(answer->rfind(" answer: red favourite", 0), 0u) << *answer;
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(),
                          [](const std::string& l) { return l.rfind(" reloaded in BFloat16 in ", 0) == 0; }))
      << result.out;
  EXPECT_EQ(std::count(lines.begin(), lines.end(), " loading report: 0 missing, 0 unexpected, 0 mismatched keys"), 2)
      << result.out;
  EXPECT_EQ(lines.back().rfind("done in ", 0), 0u) << result.out;
}

}  // namespace
}  // namespace hfcpp
