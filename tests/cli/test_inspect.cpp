// `hfcpp inspect` on a single file, an index and model folders, as text and as JSON.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "cli_support.h"
#include "hfcpp/io/safetensors.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using testing::cli;
using testing::data_path;
using testing::squeezed_lines;

bool has_line(const std::string& text, const std::string& line) {
  const auto lines = squeezed_lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

const std::string kLlamaFile = data_path("sharding/llama/safetensors/model.safetensors").string();
const std::string kLlamaIndex = data_path("sharding/llama/sharded_safetensors/model.safetensors.index.json").string();

TEST(Inspect, SingleFileAsText) {
  const auto result = cli({"inspect", kLlamaFile});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(squeezed_lines(result.out).front(), kLlamaFile);
  EXPECT_TRUE(has_line(result.out, "format: safetensors")) << result.out;
  EXPECT_TRUE(has_line(result.out, "metadata: format=pt")) << result.out;
  EXPECT_TRUE(has_line(result.out, "tensor dtype shape bytes")) << result.out;
  EXPECT_TRUE(has_line(result.out, "model.embed_tokens.weight float32 [99, 32] 12672")) << result.out;
  EXPECT_TRUE(has_line(result.out, "model.layers.0.self_attn.k_proj.weight float32 [16, 32] 2048")) << result.out;
  EXPECT_TRUE(has_line(result.out, "model.norm.weight float32 [32] 128")) << result.out;
  EXPECT_TRUE(has_line(result.out, "total: 21 tensors, 24928 parameters, 99712 bytes (99.7 kB)")) << result.out;
  // One row per tensor: header + 21 rows between the blank lines.
  const auto lines = squeezed_lines(result.out);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.find(" float32 [") != std::string::npos; }), 21);
}

TEST(Inspect, SingleFileAsJson) {
  const auto result = cli({"inspect", kLlamaFile, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["format"], "safetensors");
  EXPECT_EQ(json["sharded"], false);
  EXPECT_TRUE(json["index"].is_null());
  EXPECT_EQ(json["weights"], kLlamaFile);
  EXPECT_EQ(json["files"], nlohmann::json::parse(R"([{"name": "model.safetensors", "bytes": 101816, "tensors": 21}])"));
  EXPECT_EQ(json["metadata"], nlohmann::json::parse(R"({"format": "pt"})"));
  EXPECT_EQ(json["totals"], nlohmann::json::parse(R"({"tensors": 21, "parameters": 24928, "bytes": 99712})"));
  // Every tensor as the file's header describes it, in file order.
  const auto file = SafetensorsFile::open(kLlamaFile);
  ASSERT_EQ(json["tensors"].size(), file.header().tensors.size());
  for (std::size_t i = 0; i < file.header().tensors.size(); ++i) {
    const auto& entry = file.header().tensors[i];
    const auto& t = json["tensors"][i];
    EXPECT_EQ(t["name"], entry.name);
    EXPECT_EQ(t["dtype"], "float32");
    EXPECT_EQ(t["shape"].get<std::vector<std::int64_t>>(), entry.shape);
    EXPECT_EQ(t["bytes"], entry.nbytes());
    EXPECT_EQ(t["file"], "model.safetensors");
  }
}

TEST(Inspect, IndexListsShardsAndWhereEachTensorIs) {
  const auto result = cli({"inspect", kLlamaIndex, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["sharded"], true);
  EXPECT_EQ(json["index"], nlohmann::json::parse(R"({"file": "model.safetensors.index.json", "total_size": 99712})"));
  ASSERT_EQ(json["files"].size(), 7u);
  const auto folder = fs::path(kLlamaIndex).parent_path();
  for (std::size_t i = 0; i < 7; ++i) {
    const std::string name = "model-0000" + std::to_string(i + 1) + "-of-00007.safetensors";
    EXPECT_EQ(json["files"][i]["name"], name);
    EXPECT_EQ(json["files"][i]["bytes"], fs::file_size(folder / name));
  }
  const auto index = nlohmann::json::parse(testing::read_file(kLlamaIndex));
  ASSERT_EQ(json["tensors"].size(), 21u);
  for (const auto& t : json["tensors"]) EXPECT_EQ(t["file"], index["weight_map"][t["name"].get<std::string>()]);
  EXPECT_EQ(json["totals"], nlohmann::json::parse(R"({"tensors": 21, "parameters": 24928, "bytes": 99712})"));

  const auto text = cli({"inspect", kLlamaIndex});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(has_line(text.out, "format: safetensors, sharded in 7 files")) << text.out;
  EXPECT_TRUE(has_line(text.out, "index: total_size 99712")) << text.out;
  EXPECT_TRUE(has_line(text.out, "model-00007-of-00007.safetensors 1 12792")) << text.out;
  EXPECT_TRUE(has_line(text.out, "lm_head.weight float32 [99, 32] 12672 model-00007-of-00007.safetensors")) << text.out;
}

TEST(Inspect, FolderResolvesAsTransformersDoes) {
  // A folder with only shards resolves to the index; one with model.safetensors to that file.
  const auto sharded = nlohmann::json::parse(cli({"inspect", data_path("sharding/llama/sharded_safetensors").string(), "--json"}).out);
  EXPECT_EQ(sharded["weights"], kLlamaIndex);
  const auto single = nlohmann::json::parse(cli({"inspect", data_path("sharding/llama/safetensors").string(), "--json"}).out);
  EXPECT_EQ(single["weights"], kLlamaFile);

  // model.safetensors wins over an index in the same folder.
  testing::TempDir dir;
  fs::copy(kLlamaIndex, dir / "model.safetensors.index.json");
  fs::copy(kLlamaFile, dir / "model.safetensors");
  const auto both = nlohmann::json::parse(cli({"inspect", dir.path().string(), "--json"}).out);
  EXPECT_EQ(both["weights"], (dir / "model.safetensors").string());
}

TEST(Inspect, VariantFolder) {
  const std::string folder = data_path("sharding/llama/variant_fp16").string();
  const auto without = cli({"inspect", folder});
  EXPECT_NE(without.exit_code, 0);
  EXPECT_EQ(without.out, "");
  EXPECT_EQ(std::count(without.err.begin(), without.err.end(), '\n'), 1) << without.err;
  EXPECT_NE(without.err.find("model.fp16.safetensors"), std::string::npos) << without.err;

  const auto with = cli({"inspect", folder, "--variant", "fp16", "--json"});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  const auto json = nlohmann::json::parse(with.out);
  EXPECT_EQ(json["files"][0]["name"], "model.fp16.safetensors");
  for (const auto& t : json["tensors"]) EXPECT_EQ(t["dtype"], "float16");
  EXPECT_EQ(json["totals"]["bytes"], 99712 / 2);
}

TEST(Inspect, Errors) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"inspect", "/nonexistent/model.safetensors"},
           {"inspect", data_path("sharding/llama/safetensors/config.json").string()},
           {"inspect"},
           {"inspect", kLlamaFile, "--bogus"}}) {
    const auto result = cli(args);
    EXPECT_NE(result.exit_code, 0) << args.back();
    EXPECT_EQ(result.out, "") << args.back();
    EXPECT_EQ(result.err.rfind("hfcpp: error: ", 0), 0u) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

TEST(Inspect, Help) {
  const auto result = cli({"inspect", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("--json"), std::string::npos);
  EXPECT_NE(result.out.find("--variant"), std::string::npos);
  const auto top = cli({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("inspect"), std::string::npos);
  EXPECT_NE(top.out.find("convert"), std::string::npos);
  const auto none = cli({});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
}

}  // namespace
}  // namespace hfcpp
