// load_sharded_checkpoint into a module built with the checkpoint's names, and what it reports.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/modeling/sharding.h"
#include "sharding_fixtures.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::ParameterTree;
using testing::TempDir;

namespace fs = std::filesystem;

const char* kLlamaShards = "sharding/llama/sharded_safetensors";

// The Llama fixture's tensors (name -> value), from its unsharded file.
std::map<std::string, at::Tensor> llama_tensors() {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, tensor] : load_safetensors(data_path("sharding/llama/safetensors/model.safetensors")))
    out.emplace(name, tensor);
  return out;
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> llama_shapes() {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
  for (const auto& [name, tensor] : llama_tensors()) shapes.emplace_back(name, tensor.sizes().vec());
  return shapes;
}

std::map<std::string, at::Tensor> snapshot(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters()) out.emplace(item.key(), item.value().clone());
  for (const auto& item : module.named_buffers()) out.emplace(item.key(), item.value().clone());
  return out;
}

void expect_unchanged(const torch::nn::Module& module, const std::map<std::string, at::Tensor>& before) {
  for (const auto& [name, value] : snapshot(module)) EXPECT_TRUE(at::equal(value, before.at(name))) << name;
}

TEST(LoadSharded, LoadsEveryTensorOfTheShards) {
  ParameterTree module(llama_shapes());
  const IncompatibleKeys keys = load_sharded_checkpoint(module, data_path(kLlamaShards));
  EXPECT_TRUE(keys.missing_keys.empty());
  EXPECT_TRUE(keys.unexpected_keys.empty());
  const auto expected = llama_tensors();
  const auto params = module.named_parameters();
  ASSERT_EQ(params.size(), expected.size());
  for (const auto& item : params) EXPECT_TRUE(testing::tensors_equal(item.value(), expected.at(item.key()))) << item.key();
}

TEST(LoadSharded, NonStrictReportsMissingInModuleOrderAndUnexpectedInIndexOrder) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
  for (const auto& entry : llama_shapes())
    if (entry.first != "lm_head.weight" && entry.first != "model.norm.weight") shapes.push_back(entry);
  ParameterTree module(shapes);
  module.add("zeta.weight", {3});
  module.add("alpha.running_mean", {3}, /*buffer=*/true);
  module.add("alpha.weight", {3});
  const IncompatibleKeys keys = load_sharded_checkpoint(module, data_path(kLlamaShards), /*strict=*/false);
  // Python's state_dict order: module by module, a module's parameters before its buffers.
  EXPECT_EQ(keys.missing_keys, (std::vector<std::string>{"zeta.weight", "alpha.weight", "alpha.running_mean"}));
  EXPECT_EQ(keys.unexpected_keys, (std::vector<std::string>{"lm_head.weight", "model.norm.weight"}));
  const auto expected = llama_tensors();
  for (const auto& item : module.named_parameters()) {
    if (expected.count(item.key())) EXPECT_TRUE(testing::tensors_equal(item.value(), expected.at(item.key())));
    else EXPECT_EQ(item.value().abs().sum().item<float>(), 0.0f) << item.key();
  }
}

TEST(LoadSharded, StrictFailsBeforeLoadingAnything) {
  auto shapes = llama_shapes();
  shapes.emplace_back("extra.weight", std::vector<std::int64_t>{2});
  ParameterTree module(shapes);
  const auto before = snapshot(module);
  try {
    load_sharded_checkpoint(module, data_path(kLlamaShards), /*strict=*/true);
    FAIL() << "expected a KeyError";
  } catch (const KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("missing keys: extra.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.safetensors.index.json"), std::string::npos) << e.what();
  }
  expect_unchanged(module, before);
}

TEST(LoadSharded, SizeMismatchFailsBeforeLoadingAnything) {
  auto shapes = llama_shapes();
  for (auto& [name, shape] : shapes)
    if (name == "model.norm.weight") shape = {31};  // checkpoint: [32]; the last shard but one
  ParameterTree module(shapes);
  const auto before = snapshot(module);
  try {
    load_sharded_checkpoint(module, data_path(kLlamaShards), /*strict=*/false);
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm.weight"), std::string::npos) << e.what();
  }
  expect_unchanged(module, before);
}

TEST(LoadSharded, FolderWithoutIndex) {
  TempDir dir;
  ParameterTree module(llama_shapes());
  try {
    load_sharded_checkpoint(module, dir.path());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos);
  }
}

TEST(LoadSharded, PreferSafeChoosesBetweenTheTwoIndexes) {
  // A folder with both indexes; the .bin one lists a shard that is not there, so which index was
  // used shows in the outcome.
  TempDir dir;
  for (const auto& entry : fs::directory_iterator(data_path(kLlamaShards))) fs::copy(entry.path(), dir.path());
  testing::write_file(dir / "pytorch_model.bin.index.json",
                      R"({"metadata": {"total_size": 4}, "weight_map": {"model.norm.weight": "pytorch_model-00001-of-00001.bin"}})");
  ParameterTree safe(llama_shapes());
  EXPECT_NO_THROW(load_sharded_checkpoint(safe, dir.path(), true, /*prefer_safe=*/true));
  ParameterTree bin(llama_shapes());
  EXPECT_THROW(load_sharded_checkpoint(bin, dir.path(), true, /*prefer_safe=*/false), Error);
  // Only a .bin index: used whatever the preference.
  fs::remove(dir / "model.safetensors.index.json");
  ParameterTree only_bin(llama_shapes());
  try {
    load_sharded_checkpoint(only_bin, dir.path(), true, /*prefer_safe=*/true);
    FAIL() << "expected an error from the .bin index";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pytorch_model.bin.index.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hfcpp
