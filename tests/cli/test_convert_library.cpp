// The library side of `hfcpp convert`: config.json rewriting, weights resolution, file names.
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/modeling/convert.h"
#include "hfcpp/progress.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using testing::data_path;
using testing::read_file;
using testing::TempDir;

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

class FixtureConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureConfig, TorchDtypeChangesAndNothingElse) {
  // Python wrote these with json.dumps(indent=2, sort_keys=True) + "\n"; only one line may change.
  const std::string original = read_file(data_path("sharding/" + GetParam() + "/safetensors/config.json"));
  EXPECT_EQ(config_json_with_torch_dtype(original, c10::kFloat, "config.json"), original);
  EXPECT_EQ(config_json_with_torch_dtype(original, c10::kBFloat16, "config.json"),
            replace_once(original, "\"torch_dtype\": \"float32\"", "\"torch_dtype\": \"bfloat16\""));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureConfig, ::testing::Values("bert", "gpt2", "llama"));

TEST(ConfigJson, WrittenAsPythonsJsonDumps) {
  // Sorted keys (uppercase first, by code point), ASCII escapes as Python's ensure_ascii writes
  // them (DEL and non-ASCII as \uXXXX, astral characters as surrogate pairs), Python's floats.
  const std::string input = "{\"b\": 1e-06, \"a\": {\"z\": [], \"Z\": {}}, \"label\": \"caf\xC3\xA9 \xF0\x9F\x98\x80\x7F\", "
                            "\"eps\": 1e-12, \"theta\": 10000.0, \"range\": 0.02, \"n\": null, \"t\": true}";
  const std::string expected =
      "{\n"
      "  \"a\": {\n"
      "    \"Z\": {},\n"
      "    \"z\": []\n"
      "  },\n"
      "  \"b\": 1e-06,\n"
      "  \"eps\": 1e-12,\n"
      "  \"label\": \"caf\\u00e9 \\ud83d\\ude00\\u007f\",\n"
      "  \"n\": null,\n"
      "  \"range\": 0.02,\n"
      "  \"t\": true,\n"
      "  \"theta\": 10000.0,\n"
      "  \"torch_dtype\": \"float16\"\n"
      "}\n";
  EXPECT_EQ(config_json_with_torch_dtype(input, c10::kHalf, "config.json"), expected);
}

TEST(ConfigJson, RefusesWhatIsNotAnObject) {
  EXPECT_THROW(config_json_with_torch_dtype("[1, 2]", c10::kHalf, "config.json"), FormatError);
  try {
    config_json_with_torch_dtype("{\"a\": ", c10::kHalf, "/x/config.json");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/x/config.json"), std::string::npos);
  }
}

TEST(ResolveWeights, FolderOrderAndVariants) {
  TempDir dir;
  EXPECT_THROW(resolve_weights_path(dir / "missing"), FileError);
  try {
    resolve_weights_path(dir.path());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors.index.json"), std::string::npos) << e.what();
  }
  // Later names in Transformers' order are used only when earlier ones are absent.
  const std::vector<std::string> order = {"pytorch_model.bin.index.json", "pytorch_model.bin", "model.safetensors.index.json",
                                          "model.safetensors"};
  for (const auto& name : order) {
    testing::write_file(dir / name, "");
    EXPECT_EQ(resolve_weights_path(dir.path()), dir / name);
  }
  // A variant picks its own names only, and a missing variant is pointed out.
  testing::write_file(dir / "model.fp16.safetensors", "");
  EXPECT_EQ(resolve_weights_path(dir.path(), "fp16"), dir / "model.fp16.safetensors");
  EXPECT_THROW(resolve_weights_path(dir.path(), "bf16"), FileError);
  // A file is taken as given.
  EXPECT_EQ(resolve_weights_path(dir / "pytorch_model.bin"), dir / "pytorch_model.bin");
}

TEST(ResolveWeights, VariantOnlyFolderHintsAtTheVariant) {
  try {
    resolve_weights_path(data_path("sharding/llama/variant_fp16"));
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("found model.fp16.safetensors"), std::string::npos) << e.what();
  }
}

TEST(WeightsFileNames, WhatConvertDoesNotCopy) {
  for (const char* name : {"model.safetensors", "model-00001-of-00002.safetensors", "model.fp16.safetensors",
                           "pytorch_model.bin", "pytorch_model-00001-of-00003.bin", "model.safetensors.index.json",
                           "model.safetensors.index.fp16.json", "pytorch_model.bin.index.json", "tf_model.h5",
                           "flax_model.msgpack"})
    EXPECT_TRUE(is_weights_file_name(name)) << name;
  for (const char* name : {"config.json", "tokenizer.json", "tokenizer.model", "training_args.bin", "vocab.txt",
                           "generation_config.json", "README.md", "adapter_model.safetensors"})
    EXPECT_FALSE(is_weights_file_name(name)) << name;
}

TEST(Progress, RendersWithinTheWidth) {
  // label, bar, percent, done/total and rate (once time has passed); the bar takes the rest.
  EXPECT_EQ(ProgressBar::render("writing", 0, 1000, ProgressBar::Unit::kBytes, 0, 60),
            "writing [" + std::string(33, '.') + "]   0% 0 B/1.00 kB");
  EXPECT_EQ(ProgressBar::render("writing", 500, 1000, ProgressBar::Unit::kBytes, 1.0, 60),
            "writing [" + std::string(11, '#') + std::string(12, '.') + "]  50% 500 B/1.00 kB 500 B/s");
  EXPECT_EQ(ProgressBar::render("shards", 3, 3, ProgressBar::Unit::kItems, 0, 40),
            "shards [" + std::string(22, '#') + "] 100% 3/3");
  const std::string narrow = ProgressBar::render(std::string(100, 'x'), 5, 10, ProgressBar::Unit::kItems, 0, 40);
  EXPECT_LE(narrow.size(), 40u);
  EXPECT_NE(narrow.find("50%"), std::string::npos) << narrow;
}

TEST(Progress, FormatsBytesInDecimalUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(99712), "99.7 kB");
  EXPECT_EQ(format_bytes(1'500'000'000), "1.50 GB");
  EXPECT_EQ(format_bytes(512'000'000), "512 MB");
}

TEST(Progress, HiddenWhenStderrIsNotATerminal) {
  // The test runner's stderr is a pipe or file under ctest; on a terminal this is a no-op check.
  if (isatty(2)) GTEST_SKIP() << "stderr is a terminal";
  EXPECT_FALSE(ProgressBar::enabled());
  ProgressBar bar("x", 10);
  bar.advance(5);
  EXPECT_FALSE(bar.visible());
  EXPECT_EQ(bar.done(), 5u);
}

}  // namespace
}  // namespace hfcpp
