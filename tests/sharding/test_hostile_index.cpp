// Index files that try to read outside the checkpoint folder, or that disagree with their shards:
// each is refused with an hfcpp::Error that names the index, before any tensor is read.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/io/tensor_source.h"
#include "hfcpp/modeling/sharding.h"
#include "sharding_fixtures.h"
#include "test_support.h"

namespace hfcpp {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A copy of the Llama shards whose index is replaced by `index_json`.
class HostileIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& entry : fs::directory_iterator(testing::data_path("sharding/llama/sharded_safetensors")))
      fs::copy(entry.path(), dir_.path());
  }
  fs::path index() const { return dir_ / "model.safetensors.index.json"; }

  // Opens the index and returns the error's message, checking its type and that it names the index.
  template <typename ErrorType>
  std::string refused(const std::string& index_json) {
    testing::write_file(index(), index_json);
    try {
      open_tensor_source(index());
    } catch (const ErrorType& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(index().string()), std::string::npos) << message;
      // load_sharded_checkpoint goes through the same checks.
      testing::ParameterTree module({{"model.norm.weight", {32}}});
      EXPECT_THROW(load_sharded_checkpoint(module, dir_.path(), /*strict=*/false), ErrorType);
      return message;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception type: " << e.what();
      return "";
    }
    ADD_FAILURE() << "the index was accepted: " << index_json;
    return "";
  }

  TempDir dir_;
};

std::string index_with(const std::string& file) {
  return R"({"metadata": {"total_size": 128}, "weight_map": {"model.norm.weight": ")" + file + R"("}})";
}

TEST_F(HostileIndex, ParentDirectoryShard) {
  testing::write_file(dir_.path().parent_path() / "x.safetensors", "");
  const auto message = refused<FormatError>(index_with("../x.safetensors"));
  EXPECT_NE(message.find("'../x.safetensors'"), std::string::npos) << message;
  fs::remove(dir_.path().parent_path() / "x.safetensors");
}

TEST_F(HostileIndex, AbsolutePath) { refused<FormatError>(index_with("/etc/passwd")); }

TEST_F(HostileIndex, Subfolder) {
  fs::create_directory(dir_ / "sub");
  fs::copy(dir_ / "model-00006-of-00007.safetensors", dir_ / "sub" / "x.safetensors");
  refused<FormatError>(index_with("sub/x.safetensors"));
}

TEST_F(HostileIndex, BackslashAndDotNames) {
  refused<FormatError>(index_with("..\\\\x.safetensors"));
  refused<FormatError>(index_with(".."));
  refused<FormatError>(index_with(""));
}

TEST_F(HostileIndex, ListsItself) {
  const auto message = refused<FormatError>(index_with("model.safetensors.index.json"));
  EXPECT_NE(message.find("shard"), std::string::npos) << message;
}

TEST_F(HostileIndex, ListsAFileThatIsNotWeights) {
  const auto message = refused<FormatError>(index_with("config.json"));
  EXPECT_NE(message.find("config.json"), std::string::npos) << message;
}

TEST_F(HostileIndex, KeyTheShardLacks) {
  const auto message = refused<FormatError>(
      R"({"weight_map": {"model.norm.weight": "model-00006-of-00007.safetensors", "lm_head.weight": "model-00006-of-00007.safetensors"}})");
  EXPECT_NE(message.find("'lm_head.weight'"), std::string::npos) << message;
}

TEST_F(HostileIndex, WeightMapIsNotAnObject) {
  refused<FormatError>(R"({"weight_map": ["model-00001-of-00007.safetensors"]})");
  refused<FormatError>(R"({"weight_map": "model-00001-of-00007.safetensors"})");
  refused<FormatError>(R"({"metadata": {}})");
  refused<FormatError>(R"({"weight_map": {"model.norm.weight": 7}})");
  refused<FormatError>(R"([])");
}

TEST_F(HostileIndex, NotJson) {
  refused<FormatError>("");
  refused<FormatError>(R"({"weight_map": {"model.norm.weight": "model-00006-of-00007.safetensors")");
}

TEST_F(HostileIndex, BadTotalSize) {
  refused<FormatError>(R"({"metadata": {"total_size": -1}, "weight_map": {}})");
  refused<FormatError>(R"({"metadata": {"total_size": "big"}, "weight_map": {}})");
}

TEST_F(HostileIndex, EmptyWeightMap) { refused<FormatError>(R"({"weight_map": {}})"); }

TEST_F(HostileIndex, MissingShard) {
  const auto message = refused<FileError>(index_with("model-00009-of-00009.safetensors"));
  EXPECT_NE(message.find("model-00009-of-00009.safetensors"), std::string::npos) << message;
}

TEST_F(HostileIndex, ShardThatIsAFolder) {
  fs::create_directory(dir_ / "model-00008-of-00008.safetensors");
  refused<FileError>(index_with("model-00008-of-00008.safetensors"));
}

TEST_F(HostileIndex, CorruptShard) {
  testing::write_file(dir_ / "model-00006-of-00007.safetensors", "not a safetensors file");
  refused<FormatError>(index_with("model-00006-of-00007.safetensors"));
}

TEST_F(HostileIndex, TensorInTwoShards) {
  // An extra shard that holds lm_head.weight again, next to a tensor the index sends there.
  save_safetensors({{"model.norm.weight", at::zeros({32})}, {"lm_head.weight", at::zeros({99, 32})}},
                   dir_ / "model-00008-of-00008.safetensors");
  const auto message = refused<FormatError>(
      R"({"weight_map": {"lm_head.weight": "model-00007-of-00007.safetensors", "model.norm.weight": "model-00008-of-00008.safetensors"}})");
  EXPECT_NE(message.find("'lm_head.weight' is stored twice"), std::string::npos) << message;
}

TEST(ShardIndex, TotalSizeMustFitInUint64) {
  // A float total_size is accepted when it is a byte count; one beyond uint64 is refused, not
  // converted (undefined behaviour, found by fuzz_shard_index).
  EXPECT_EQ(parse_shard_index(R"({"metadata": {"total_size": 1.0e9}, "weight_map": {}})", "i").total_size, 1000000000u);
  EXPECT_THROW(parse_shard_index(R"({"metadata": {"total_size": 9.97556e+29}, "weight_map": {}})", "i"), FormatError);
  EXPECT_EQ(parse_shard_index(R"({"metadata": {"total_size": 18446744073709551615}, "weight_map": {}})", "i").total_size,
            18446744073709551615u);
}

TEST(ShardIndex, ParsesPythonsIndexInFileOrder) {
  const ShardIndex index = parse_shard_index(testing::read_file(testing::data_path("sharding/llama/model.safetensors.index.json")),
                                             "model.safetensors.index.json");
  ASSERT_TRUE(index.total_size.has_value());
  EXPECT_EQ(*index.total_size, 99712u);
  ASSERT_EQ(index.weight_map.size(), 21u);
  EXPECT_EQ(index.weight_map.front(), (std::pair<std::string, std::string>{"lm_head.weight", "model-00007-of-00007.safetensors"}));
  EXPECT_EQ(index.shard_files().size(), 7u);
  EXPECT_EQ(index.shard_files().front(), "model-00001-of-00007.safetensors");
}

}  // namespace
}  // namespace hfcpp
