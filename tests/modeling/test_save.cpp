// save_pretrained: files equal to what Python writes, exact round trips, nothing half-written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hfcpp/error.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/models/bert.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::read_file;
using testing::TempDir;

nlohmann::json json_without_version(const std::filesystem::path& file) {
  auto j = nlohmann::json::parse(read_file(file));
  j.erase("transformers_version");
  j.erase("_name_or_path");
  return j;
}

void expect_same_state(PreTrainedModel& a, PreTrainedModel& b) {
  const StateDict sa = a.state_dict();
  const StateDict sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& item : sa) EXPECT_TRUE(testing::tensors_equal(item.value(), sb[item.key()])) << item.key();
}

TEST(SavePretrained, FilesEqualWhatPythonWrote) {
  const auto ckpt = data_path("bert/BertForMaskedLM/ckpt");
  auto model = from_pretrained<BertForMaskedLM>(ckpt);
  TempDir dir;
  model->save_pretrained(dir.path());
  // Tied keys (decoder weight and bias) dropped as Transformers drops them; same bytes.
  EXPECT_TRUE(read_file(dir / "model.safetensors") == read_file(ckpt / "model.safetensors"));
  EXPECT_EQ(json_without_version(dir / "config.json"), json_without_version(ckpt / "config.json"));
  EXPECT_EQ(json_without_version(dir / "generation_config.json"), json_without_version(ckpt / "generation_config.json"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "config.json"))["_name_or_path"], ckpt.string());
  // Layout is Python's json.dumps(indent=2, sort_keys=True) + "\n".
  const std::string text = read_file(dir / "config.json");
  EXPECT_EQ(text.substr(0, 22), "{\n  \"_name_or_path\": \"");
  EXPECT_EQ(text.back(), '\n');
}

TEST(SavePretrained, ShardsAndIndexEqualWhatPythonWrote) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  TempDir dir;
  model->save_pretrained(dir.path(), {.max_shard_size = "20KB"});
  const auto python = data_path("bert/BertForMaskedLM/formats/sharded_safetensors");
  EXPECT_EQ(read_file(dir / "model.safetensors.index.json"), read_file(python / "model.safetensors.index.json"));
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "model-0000" + std::to_string(i) + "-of-00005.safetensors";
    EXPECT_TRUE(read_file(dir / name) == read_file(python / name)) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path());
  expect_same_state(*model, *reloaded);
}

TEST(SavePretrained, Bf16RoundTripIsExact) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"), {.torch_dtype = "bfloat16"});
  TempDir dir;
  model->save_pretrained(dir.path());
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "config.json"))["torch_dtype"], "bfloat16");
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path(), {.torch_dtype = "auto"});
  EXPECT_EQ(reloaded->dtype(), at::kBFloat16);
  expect_same_state(*model, *reloaded);
  // Python writes the same bytes for the same bf16 tensors.
  EXPECT_TRUE(read_file(dir / "model.safetensors") ==
              read_file(data_path("bert/BertForMaskedLM/formats/bf16/model.safetensors")));
}

// .bin saves (safe_serialization = false): Python keeps the tied duplicates in .bin files, and so
// do we; the bytes equal torch.save's, single and sharded, and the round trip is exact.
TEST(SavePretrained, BinFilesEqualWhatPythonWroteAndRoundTrip) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  TempDir dir;
  model->save_pretrained(dir / "single", {.safe_serialization = false});
  const auto python = data_path("bert/BertForMaskedLM/formats");
  EXPECT_TRUE(read_file(dir / "single" / "pytorch_model.bin") == read_file(python / "bin" / "pytorch_model.bin"));
  EXPECT_FALSE(std::filesystem::exists(dir / "single" / "model.safetensors"));
  expect_same_state(*model, *from_pretrained<BertForMaskedLM>(dir / "single"));

  model->save_pretrained(dir / "sharded", {.safe_serialization = false, .max_shard_size = "20KB"});
  EXPECT_EQ(read_file(dir / "sharded" / "pytorch_model.bin.index.json"),
            read_file(python / "sharded_bin" / "pytorch_model.bin.index.json"));
  for (int i = 1; i <= 5; ++i) {
    const std::string name = "pytorch_model-0000" + std::to_string(i) + "-of-00005.bin";
    EXPECT_TRUE(read_file(dir / "sharded" / name) == read_file(python / "sharded_bin" / name)) << name;
  }
  expect_same_state(*model, *from_pretrained<BertForMaskedLM>(dir / "sharded"));
}

TEST(SavePretrained, Bf16BinRoundTripIsExact) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"), {.torch_dtype = "bfloat16"});
  TempDir dir;
  model->save_pretrained(dir.path(), {.safe_serialization = false, .max_shard_size = "30KB"});
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path(), {.torch_dtype = "auto"});
  EXPECT_EQ(reloaded->dtype(), at::kBFloat16);
  expect_same_state(*model, *reloaded);
}

TEST(SavePretrained, VariantNames) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  TempDir dir;
  model->save_pretrained(dir.path(), {.max_shard_size = "40KB", .variant = "fp16"});
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.fp16.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model.fp16-00001-of-00003.safetensors"));
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path(), {.variant = "fp16"});
  expect_same_state(*model, *reloaded);
}

TEST(SavePretrained, ALaterSaveRemovesWhatWouldShadowIt) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  TempDir dir;
  model->save_pretrained(dir.path(), {.max_shard_size = "20KB"});
  testing::write_file(dir / "notes.txt", "keep me");
  testing::write_file(dir / "model-00009-of-00009.safetensors.bak", "not ours");
  model->save_pretrained(dir.path());  // single file now
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model-00001-of-00005.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.txt"));
  model->save_pretrained(dir.path(), {.max_shard_size = "40KB"});  // sharded again
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
  auto reloaded = from_pretrained<BertForMaskedLM>(dir.path());
  expect_same_state(*model, *reloaded);
}

TEST(SavePretrained, AFailedSaveLeavesTheOldCheckpointIntact) {
  auto model = from_pretrained<BertForMaskedLM>(data_path("bert/BertForMaskedLM/ckpt"));
  TempDir dir;
  model->save_pretrained(dir.path());
  const std::string before = read_file(dir / "model.safetensors");
  // A second shard that cannot be written (complex tensors have no safetensors dtype).
  StateDict bad = model->state_dict();
  bad.insert("zz.complex", at::zeros({4}, at::kComplexFloat));
  SaveOptions options;
  options.state_dict = bad;
  options.max_shard_size = "20KB";
  EXPECT_THROW(model->save_pretrained(dir.path(), options), Error);
  EXPECT_TRUE(read_file(dir / "model.safetensors") == before);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_NE(entry.path().filename().string().rfind(".tmp-", 0), 0u) << entry.path();
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.index.json"));
}

TEST(SavePretrained, UndeclaredSharedTensorsAreRefusedWithAFix) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  StateDict shared = model->state_dict();
  shared.insert("copy.of.word_embeddings", shared["embeddings.word_embeddings.weight"]);
  TempDir dir;
  SaveOptions options;
  options.state_dict = shared;
  try {
    model->save_pretrained(dir.path(), options);
    FAIL();
  } catch (const ValueError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("copy.of.word_embeddings"), std::string::npos);
    EXPECT_NE(what.find("safe_serialization = false"), std::string::npos);
  }
  // Disjoint views of one storage are cloned, not refused.
  const at::Tensor base = at::arange(8, at::kFloat);
  StateDict views = model->state_dict();
  views.insert("part.a", base.slice(0, 0, 4));
  views.insert("part.b", base.slice(0, 4, 8));
  options.state_dict = views;
  model->save_pretrained(dir.path(), options);
  const auto source = open_tensor_source(dir / "model.safetensors");
  EXPECT_TRUE(testing::tensors_equal(source->load("part.b"), at::arange(4, 8, at::kFloat)));
}

TEST(SavePretrained, NotMainProcessWritesNothing) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  TempDir dir;
  model->save_pretrained(dir / "out", {.is_main_process = false});
  EXPECT_TRUE(std::filesystem::is_empty(dir / "out"));
}

TEST(SavePretrained, StateDictOptionOfFromPretrained) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  FromPretrainedOptions options;
  options.state_dict = model->state_dict();
  auto again = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"), options);
  expect_same_state(*model, *again);
}

}  // namespace
}  // namespace hfcpp
