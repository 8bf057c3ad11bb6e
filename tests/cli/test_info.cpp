// `hfcpp info`: parameter counts and memory footprints equal Python's num_parameters() and
// get_memory_footprint() (numbers copied from ../shared/fixtures/surgery/numbers.json), with the
// class, config summary, dtype and weight files of the folder.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "cli_support.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::cli;
using testing::data_path;
using testing::is_one_line_error;
using testing::squeezed_lines;

struct PythonNumbers {
  std::string model;  // under tests/data
  std::int64_t all, only_trainable, exclude_embeddings;
  std::int64_t footprint, footprint_no_buffers;
};

class InfoMatchesPython : public ::testing::TestWithParam<PythonNumbers> {};

TEST_P(InfoMatchesPython, ParametersAndFootprint) {
  const auto& expected = GetParam();
  const fs::path folder = data_path(expected.model + "/ckpt");
  const auto result = cli({"info", folder.string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const auto out = json::parse(result.out);
  EXPECT_EQ(out["class"], fs::path(expected.model).filename().string());
  EXPECT_EQ(out["num_parameters"], json({{"all", expected.all},
                                         {"only_trainable", expected.only_trainable},
                                         {"exclude_embeddings", expected.exclude_embeddings}}));
  EXPECT_EQ(out["memory_footprint"],
            json({{"with_buffers", expected.footprint}, {"without_buffers", expected.footprint_no_buffers}}));
  EXPECT_EQ(out["dtype"], "float32");
  EXPECT_EQ(out["weights"], json::parse(R"([{"file": "model.safetensors", "bytes": )" +
                                        std::to_string(fs::file_size(folder / "model.safetensors")) + "}]"));
  EXPECT_EQ(out["loading"], json::parse(R"({"missing_keys": [], "unexpected_keys": [], "mismatched_keys": 0})"));
}

INSTANTIATE_TEST_SUITE_P(
    Classes, InfoMatchesPython,
    ::testing::Values(PythonNumbers{"bert/BertModel", 19978, 19978, 14698, 80936, 79912},
                      PythonNumbers{"bert/BertForMaskedLM", 20141, 20141, 14861, 81588, 80564},
                      PythonNumbers{"gpt2/GPT2LMHeadModel", 30688, 30688, 25472, 130952, 122752},
                      PythonNumbers{"llama/LlamaForCausalLM", 24928, 24928, 21760, 99760, 99712}),
    [](const auto& info) { return fs::path(info.param.model).filename().string(); });

TEST(Info, TextSummaryOfTheBundledGpt2) {
  const std::string tofu = data_path("models/gpt2-arc-tofu").string();
  const auto result = cli({"info", tofu});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto lines = squeezed_lines(result.out);
  ASSERT_EQ(lines.size(), 8u) << result.out;
  EXPECT_EQ(lines[0], "model " + tofu);
  EXPECT_EQ(lines[1], "class GPT2LMHeadModel (model_type gpt2)");
  EXPECT_EQ(lines[2], "config vocab_size=350, hidden_size=20, num_hidden_layers=1, num_attention_heads=1, "
                      "max_position_embeddings=40, activation_function=gelu_new, tie_word_embeddings=true");
  EXPECT_EQ(lines[3], "dtype float32 (config.json torch_dtype: float32)");
  EXPECT_EQ(lines[4], "weights model.safetensors (53.1 kB)");
  // SOURCE.md: 12,900 parameters; wte [350, 20] and wpe [40, 20] are the embeddings.
  EXPECT_EQ(lines[5], "parameters 12900 (trainable 12900, without embeddings 5100)");
  // GPT-2's attention keeps a [1, 1, 40, 40] bool causal mask and a float masked_bias as buffers.
  EXPECT_EQ(lines[6], "memory 53204 bytes (53.2 kB) with buffers, 51600 bytes without");
  EXPECT_EQ(lines[7], "loading 0 missing, 0 unexpected, 0 mismatched keys");
}

TEST(Info, DtypeAndVariantOptions) {
  auto result = cli({"info", data_path("models/gpt2-arc-tofu").string(), "--dtype", "bfloat16", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto out = json::parse(result.out);
  EXPECT_EQ(out["dtype"], "bfloat16");
  EXPECT_EQ(out["memory_footprint"]["without_buffers"], 12900 * 2);
  // The fixture's fp16 variant: model.fp16.safetensors.
  const fs::path variant = data_path("gpt2/GPT2LMHeadModel/formats/variant_fp16");
  result = cli({"info", variant.string(), "--variant", "fp16", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  out = json::parse(result.out);
  EXPECT_EQ(out["weights"][0]["file"], "model.fp16.safetensors");
  EXPECT_EQ(out["num_parameters"]["all"], 30688);
}

TEST(Info, ShardedCheckpointListsTheIndexAndEveryShard) {
  const fs::path folder = data_path("gpt2/GPT2LMHeadModel/formats/sharded_safetensors");
  const auto result = cli({"info", folder.string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto out = json::parse(result.out);
  ASSERT_EQ(out["weights"].size(), 9u);  // the index and its 8 shards
  EXPECT_EQ(out["weights"][0]["file"], "model.safetensors.index.json");
  for (std::size_t i = 1; i < out["weights"].size(); ++i) {
    const std::string shard = out["weights"][i]["file"];
    EXPECT_EQ(out["weights"][i]["bytes"], fs::file_size(folder / shard)) << shard;
  }
  EXPECT_EQ(out["num_parameters"]["all"], 30688);
}

TEST(Info, Errors) {
  EXPECT_TRUE(is_one_line_error(cli({"info", "meta-llama/Llama-3.2-1B"}),
                                "meta-llama/Llama-3.2-1B: no such folder, and Hub download not supported yet "
                                "(pass a local model folder)"));
  const std::string file = data_path("models/gpt2-arc-tofu/config.json").string();
  EXPECT_TRUE(is_one_line_error(cli({"info", file}), file + ": not a folder (MODEL is a model folder)"));
}

}  // namespace
}  // namespace hfcpp
