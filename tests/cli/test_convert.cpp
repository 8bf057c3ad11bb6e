// `hfcpp convert`: outputs checked against Python's own saves of the same model (byte for byte
// where Python wrote the same thing), values against the source, and failure modes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "cli_support.h"
#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/io/tensor_source.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using testing::cli;
using testing::data_path;
using testing::folder_listing;
using testing::read_file;
using testing::TempDir;

const fs::path kLlama = data_path("sharding/llama/safetensors");

void expect_one_line_error(const testing::CliResult& result) {
  EXPECT_NE(result.exit_code, 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err.rfind("hfcpp: error: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

std::map<std::string, at::Tensor> tensors_of(const fs::path& weights) {
  const auto source = open_tensor_source(weights);
  std::map<std::string, at::Tensor> out;
  for (const auto& meta : source->tensors()) out.emplace(meta.key, source->load(meta.key).clone());
  return out;
}

TEST(Convert, Bf16ShardedHasTheCastValuesAValidIndexAndTheOtherFiles) {
  TempDir dir;
  const auto out = dir / "out";
  const auto result = cli({"convert", kLlama.string(), out.string(), "--dtype", "bf16", "--max-shard-size", "20KB"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");

  // 49856 bytes in bf16; 20 kB shards in the file's (sorted) order.
  const auto index = nlohmann::json::parse(read_file(out / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"], 49856);
  std::set<std::string> shard_files;
  for (const auto& [key, file] : index["weight_map"].items()) shard_files.insert(file.get<std::string>());
  EXPECT_EQ(shard_files.size(), 3u);
  std::vector<std::string> expected_listing{"config.json", "generation_config.json"};
  for (const auto& file : shard_files) expected_listing.push_back(file);
  expected_listing.push_back("model.safetensors.index.json");
  std::sort(expected_listing.begin(), expected_listing.end());
  EXPECT_EQ(folder_listing(out), expected_listing);  // nothing else: no staging folder left
  for (const auto& file : shard_files) {
    const auto shard = SafetensorsFile::open(out / file);
    EXPECT_EQ(shard.header().metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
    EXPECT_LE(fs::file_size(out / file), 20000u + 2000u);  // data <= 20 kB, plus the header
  }

  const auto original = tensors_of(kLlama / "model.safetensors");
  const auto converted = tensors_of(out / "model.safetensors.index.json");
  ASSERT_EQ(converted.size(), original.size());
  for (const auto& [key, value] : original) {
    ASSERT_TRUE(converted.count(key)) << key;
    EXPECT_TRUE(testing::tensors_equal(converted.at(key), value.to(at::kBFloat16))) << key;
    EXPECT_EQ(index["weight_map"].count(key), 1u) << key;
  }

  // config.json: torch_dtype updated, the rest as Python writes it (its own bf16 save is identical).
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(read_file(out / "config.json"), read_file(data_path("sharding/llama/bf16/config.json")));
  EXPECT_EQ(read_file(out / "generation_config.json"), read_file(kLlama / "generation_config.json"));
}

TEST(Convert, Bf16SingleFileIsByteIdenticalToPythonsSave) {
  TempDir dir;
  const auto result = cli({"convert", kLlama.string(), dir.path().string(), "--dtype", "bfloat16"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(folder_listing(dir.path()), (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors"}));
  EXPECT_TRUE(read_file(dir / "model.safetensors") == read_file(data_path("sharding/llama/bf16/model.safetensors")));
  EXPECT_EQ(read_file(dir / "config.json"), read_file(data_path("sharding/llama/bf16/config.json")));
}

TEST(Convert, Fp16VariantIsByteIdenticalToPythonsSave) {
  TempDir dir;
  const auto result = cli({"convert", kLlama.string(), dir.path().string(), "--dtype", "float16", "--variant", "fp16"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(folder_listing(dir.path()), (std::vector<std::string>{"config.json", "generation_config.json", "model.fp16.safetensors"}));
  EXPECT_TRUE(read_file(dir / "model.fp16.safetensors") == read_file(data_path("sharding/llama/variant_fp16/model.fp16.safetensors")));
  EXPECT_EQ(read_file(dir / "config.json"), read_file(data_path("sharding/llama/variant_fp16/config.json")));

  // Read back with --source-variant, sharded under the variant's names.
  const auto sharded = dir / "sharded";
  const auto again = cli({"convert", dir.path().string(), sharded.string(), "--source-variant", "fp16", "--variant",
                          "fp16", "--max-shard-size", "30KB"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(folder_listing(sharded),
            (std::vector<std::string>{"config.json", "generation_config.json", "model.fp16-00001-of-00002.safetensors",
                                      "model.fp16-00002-of-00002.safetensors", "model.safetensors.index.fp16.json"}));
}

TEST(Convert, Fp32RoundTripThroughShardsIsExact) {
  TempDir dir;
  ASSERT_EQ(cli({"convert", kLlama.string(), (dir / "sharded").string(), "--max-shard-size", "0.03MB"}).exit_code, 0);
  ASSERT_TRUE(fs::exists(dir / "sharded" / "model.safetensors.index.json"));
  const auto back = cli({"convert", (dir / "sharded").string(), (dir / "single").string()});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  // Without a dtype change every file comes back as Python wrote it.
  for (const char* name : {"model.safetensors", "config.json", "generation_config.json"})
    EXPECT_TRUE(read_file(dir / "single" / name) == read_file(kLlama / name)) << name;
  // Python's own shards of the same model convert to the same single file too.
  const auto from_python = cli({"convert", data_path("sharding/llama/sharded_safetensors").string(), (dir / "py").string()});
  ASSERT_EQ(from_python.exit_code, 0) << from_python.err;
  EXPECT_TRUE(read_file(dir / "py" / "model.safetensors") == read_file(kLlama / "model.safetensors"));
}

TEST(Convert, OnlyFloatingPointTensorsAreCast) {
  TempDir dir;
  fs::create_directory(dir / "src");
  save_safetensors({{"weight", at::randn({4, 3})},
                    {"ids", at::arange(5, at::kLong)},
                    {"mask", at::ones({3}, at::kBool)},
                    {"half", at::randn({2}).to(at::kHalf)},
                    {"counts", at::arange(3, at::kInt)}},
                   dir / "src" / "model.safetensors", std::map<std::string, std::string>{{"format", "pt"}});
  ASSERT_EQ(cli({"convert", (dir / "src").string(), (dir / "out").string(), "--dtype", "bf16"}).exit_code, 0);
  const auto out = SafetensorsFile::open(dir / "out" / "model.safetensors");
  EXPECT_EQ(out.header().find("weight")->dtype, DType::BF16);
  EXPECT_EQ(out.header().find("half")->dtype, DType::BF16);
  EXPECT_EQ(out.header().find("ids")->dtype, DType::I64);
  EXPECT_EQ(out.header().find("mask")->dtype, DType::BOOL);
  EXPECT_EQ(out.header().find("counts")->dtype, DType::I32);
  EXPECT_TRUE(testing::tensors_equal(out.tensor("ids"), at::arange(5, at::kLong)));
  // No config.json in the source: none is made up.
  EXPECT_FALSE(fs::exists(dir / "out" / "config.json"));
}

TEST(Convert, CopiesCompanionFilesButNotOtherWeights) {
  TempDir dir;
  const auto src = dir / "src";
  fs::create_directory(src);
  for (const char* name : {"model.safetensors", "config.json", "generation_config.json"}) fs::copy(kLlama / name, src / name);
  testing::write_file(src / "tokenizer.json", "{\"version\": \"1.0\"}");
  testing::write_file(src / "tokenizer.model", std::string("\x00\x01\x02", 3));
  testing::write_file(src / "pytorch_model.bin", "stale .bin weights");
  testing::write_file(src / "model.fp16.safetensors", "another variant");
  fs::create_directory(src / "subfolder");
  const auto result = cli({"convert", src.string(), (dir / "out").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(folder_listing(dir / "out"), (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                                                    "tokenizer.json", "tokenizer.model"}));
  EXPECT_EQ(read_file(dir / "out" / "tokenizer.model"), std::string("\x00\x01\x02", 3));
}

TEST(Convert, RemovesWeightsOfAnEarlierSaveThatWouldShadowTheNewOnes) {
  TempDir dir;
  const auto out = dir / "out";
  fs::create_directory(out);
  for (const char* name : {"model.safetensors", "model-00001-of-00009.safetensors", "model-00009-of-00009.safetensors",
                           "model.fp16-00001-of-00002.safetensors", "notes.txt", "pytorch_model.bin"})
    testing::write_file(out / name, "old");
  const auto result = cli({"convert", kLlama.string(), out.string(), "--max-shard-size", "50KB"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(folder_listing(out),
            (std::vector<std::string>{"config.json", "generation_config.json", "model-00001-of-00003.safetensors",
                                      "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
                                      "model.fp16-00001-of-00002.safetensors", "model.safetensors.index.json", "notes.txt",
                                      "pytorch_model.bin"}));
  EXPECT_NE(result.out.find("removed model-00001-of-00009.safetensors, model-00009-of-00009.safetensors, model.safetensors"),
            std::string::npos)
      << result.out;
  // And back to one file: the index goes.
  ASSERT_EQ(cli({"convert", kLlama.string(), out.string()}).exit_code, 0);
  EXPECT_FALSE(fs::exists(out / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(out / "model-00001-of-00003.safetensors"));
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
}

TEST(Convert, FailureAfterShardsWereWrittenLeavesTheDestinationAsItWas) {
  // The shards are written, then config.json turns out not to be JSON (it must be rewritten for
  // the new dtype): nothing may appear in the destination, and what was there stays.
  TempDir dir;
  const auto src = dir / "src";
  fs::create_directory(src);
  fs::copy(kLlama / "model.safetensors", src / "model.safetensors");
  testing::write_file(src / "config.json", "{\"torch_dtype\": ");
  const auto out = dir / "out";
  fs::create_directory(out);
  testing::write_file(out / "model.safetensors", "previous weights");
  const auto result = cli({"convert", src.string(), out.string(), "--max-shard-size", "20KB", "--dtype", "bf16"});
  expect_one_line_error(result);
  EXPECT_NE(result.err.find((src / "config.json").string()), std::string::npos) << result.err;
  EXPECT_EQ(folder_listing(out), (std::vector<std::string>{"model.safetensors"}));
  EXPECT_EQ(read_file(out / "model.safetensors"), "previous weights");
}

// A safetensors file with a uint16 tensor, which libtorch 1.13 cannot hold.
void write_file_with_a_uint16_tensor(const fs::path& path) {
  std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("c":{"dtype":"U16","shape":[2],"data_offsets":[8,12]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  testing::write_file(path, bytes + header + std::string(12, '\0'));
}

TEST(Convert, UnsupportedDtypeIsReportedBeforeWriting) {
  TempDir dir;
  write_file_with_a_uint16_tensor(dir / "model.safetensors");
  const auto result = cli({"convert", (dir / "model.safetensors").string(), (dir / "out").string()});
  expect_one_line_error(result);
  EXPECT_NE(result.err.find("'c'"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Convert, BadInputGivesOneLineAndNonZeroExit) {
  TempDir dir;
  const auto out = dir / "out";
  const std::vector<std::vector<std::string>> cases = {
      {"convert", (dir / "missing").string(), out.string()},
      {"convert", kLlama.string(), out.string(), "--format", "gguf"},
      {"convert", kLlama.string(), out.string(), "--max-shard-size", "20XB"},
      {"convert", kLlama.string(), out.string(), "--max-shard-size", "-5GB"},
      {"convert", kLlama.string(), out.string(), "--max-shard-size", "0"},
      {"convert", kLlama.string(), out.string(), "--dtype", "float7"},
      {"convert", kLlama.string()},
      {"convert", kLlama.string(), kLlama.string()},  // into its own folder
      {"convert", data_path("sharding/llama/variant_fp16").string(), out.string()},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args.back());
    expect_one_line_error(cli(args));
    EXPECT_FALSE(fs::exists(out));
  }
  const auto in_place = cli({"convert", kLlama.string(), kLlama.string()});
  EXPECT_NE(in_place.err.find("another folder"), std::string::npos) << in_place.err;
  const auto format = cli({"convert", kLlama.string(), out.string(), "--format", "gguf"});
  EXPECT_NE(format.err.find("gguf"), std::string::npos) << format.err;
}

TEST(Convert, Help) {
  const auto result = cli({"convert", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* option : {"--dtype", "--max-shard-size", "--format", "--variant", "--source-variant"})
    EXPECT_NE(result.out.find(option), std::string::npos) << option;
}

// .bin input and output need the PyTorch reader and writer (src/io/torch_bin*).
TEST(ConvertBin, TiedBinToSafetensorsIsPythonsSafetensors) {
  TempDir dir;
  const auto result = cli({"convert", data_path("sharding/gpt2/bin").string(), dir.path().string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // lm_head.weight is the same tensor as transformer.wte.weight: written once, as Python does.
  EXPECT_NE(result.out.find("tied    lm_head.weight"), std::string::npos) << result.out;
  EXPECT_TRUE(read_file(dir / "model.safetensors") == read_file(data_path("sharding/gpt2/safetensors/model.safetensors")));
  EXPECT_EQ(read_file(dir / "config.json"), read_file(data_path("sharding/gpt2/bin/config.json")));
}

TEST(ConvertBin, SafetensorsToShardedBinAndBack) {
  TempDir dir;
  const auto result = cli({"convert", kLlama.string(), (dir / "bin").string(), "--format", "bin", "--max-shard-size", "50KB"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(dir / "bin" / "pytorch_model.bin.index.json"));
  EXPECT_TRUE(fs::exists(dir / "bin" / "pytorch_model-00001-of-00003.bin"));
  const auto back = cli({"convert", (dir / "bin").string(), (dir / "st").string()});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_TRUE(read_file(dir / "st" / "model.safetensors") == read_file(kLlama / "model.safetensors"));
}

TEST(ConvertBin, TiedTensorsStayOneStorageInBinOutput) {
  TempDir dir;
  const auto result = cli({"convert", data_path("sharding/gpt2/bin").string(), dir.path().string(), "--format", "bin",
                           "--dtype", "bf16", "--max-shard-size", "20KB"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto source = open_tensor_source(dir / "pytorch_model.bin.index.json");
  const TensorMeta* head = source->find("lm_head.weight");
  const TensorMeta* wte = source->find("transformer.wte.weight");
  ASSERT_TRUE(head && wte);
  EXPECT_EQ(head->file, wte->file);
  EXPECT_FALSE(head->storage_group.empty());
  EXPECT_EQ(head->storage_group, wte->storage_group);
  EXPECT_EQ(head->dtype, DType::BF16);
  // The index counts the shared storage once, as Python's does.
  const auto index = nlohmann::json::parse(read_file(dir / "pytorch_model.bin.index.json"));
  const auto python = nlohmann::json::parse(read_file(data_path("sharding/gpt2/pytorch_model.bin.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], python["metadata"]["total_size"].get<std::uint64_t>() / 2);
}

}  // namespace
}  // namespace hfcpp
