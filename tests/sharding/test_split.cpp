// split_state_dict_into_shards and shard_index_json against what Python's save_pretrained wrote
// for the fixture models (tests/data/sharding, copied from shared/fixtures by
// make_sharding_data.py), plus the corner cases of huggingface_hub's algorithm.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/io/safetensors.h"
#include "hfcpp/modeling/sharding.h"
#include "sharding_fixtures.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::python_state_dict;
using testing::read_file;
using testing::sharding_expected;

std::map<std::string, std::set<std::string>> keys_by_file(const ShardPlan& plan) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [file, keys] : plan.shards) out[file].insert(keys.begin(), keys.end());
  return out;
}

std::map<std::string, std::set<std::string>> expected_keys_by_file(const nlohmann::json& files) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [file, keys] : files.items()) out[file] = keys.get<std::set<std::string>>();
  return out;
}

class PythonShards : public ::testing::TestWithParam<std::string> {};

TEST_P(PythonShards, SafetensorsSplitAndIndexAreByteIdentical) {
  const std::string family = GetParam();
  const auto expected = sharding_expected(family);
  const StateDict state = python_state_dict(family, /*with_tied=*/false);
  const ShardPlan plan = split_state_dict_into_shards(state, parse_size(expected["max_shard_size"].get<std::string>()),
                                                      "model{suffix}.safetensors");
  EXPECT_TRUE(plan.is_sharded());
  EXPECT_EQ(keys_by_file(plan), expected_keys_by_file(expected["shard_files"]["sharded_safetensors"]));
  EXPECT_EQ(shard_index_json(plan), read_file(data_path("sharding/" + family + "/model.safetensors.index.json")));
}

TEST_P(PythonShards, BinSplitKeepsTiedTensorsTogetherAndCountsTheirStorageOnce) {
  const std::string family = GetParam();
  const auto expected = sharding_expected(family);
  const StateDict state = python_state_dict(family, /*with_tied=*/true);
  const ShardPlan plan = split_state_dict_into_shards(state, parse_size(expected["max_shard_size"].get<std::string>()),
                                                      "pytorch_model{suffix}.bin");
  EXPECT_EQ(keys_by_file(plan), expected_keys_by_file(expected["shard_files"]["sharded_bin"]));
  EXPECT_EQ(shard_index_json(plan), read_file(data_path("sharding/" + family + "/pytorch_model.bin.index.json")));

  // The same total as without the tied duplicates: each storage counts once.
  const ShardPlan untied = split_state_dict_into_shards(python_state_dict(family, false), 20000);
  EXPECT_EQ(plan.total_size, untied.total_size);
  std::uint64_t bytes = 0;
  for (const auto& item : python_state_dict(family, false)) bytes += item.value().nbytes();
  EXPECT_EQ(plan.total_size, bytes);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PythonShards, ::testing::Values("bert", "gpt2", "llama"));

TEST(PythonShards, TiedKeysFollowTheirStorageToTheEndOfItsShard) {
  // GPT-2's lm_head.weight comes last in the state dict but is written with transformer.wte.weight.
  const ShardPlan gpt2 = split_state_dict_into_shards(python_state_dict("gpt2", true), 20000, "pytorch_model{suffix}.bin");
  ASSERT_EQ(gpt2.shards.size(), 8u);
  EXPECT_EQ(gpt2.shards[0].second, (std::vector<std::string>{"transformer.wte.weight", "lm_head.weight"}));
  // BERT: the decoder weight joins the word embeddings, the decoder bias joins cls.predictions.bias.
  const ShardPlan bert = split_state_dict_into_shards(python_state_dict("bert", true), 20000, "pytorch_model{suffix}.bin");
  EXPECT_EQ(bert.shards[0].second,
            (std::vector<std::string>{"bert.embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"}));
  EXPECT_EQ(bert.shards.back().second.back(), "cls.predictions.decoder.bias");
}

TEST(PythonShards, ShardFilesAreByteIdenticalToPython) {
  // Writing each planned shard reproduces Python's sharded Llama files byte for byte.
  testing::TempDir dir;
  const ShardPlan plan = split_state_dict_into_shards(python_state_dict("llama", false), 20000);
  ASSERT_EQ(plan.shards.size(), 7u);
  const StateDict state = python_state_dict("llama", false);
  for (const auto& [file, keys] : plan.shards) {
    NamedTensors tensors;
    for (const auto& key : keys) tensors.emplace_back(key, state[key]);
    save_safetensors(tensors, dir / file, std::map<std::string, std::string>{{"format", "pt"}});
    EXPECT_TRUE(read_file(dir / file) == read_file(data_path("sharding/llama/sharded_safetensors/" + file))) << file;
  }
}

TEST(MaxShardSizeParsing, PythonTableGivesTheSameShardCount) {
  const auto table = sharding_expected("bert")["max_shard_size_parsing"];
  ASSERT_EQ(table.size(), 7u);
  const StateDict state = python_state_dict("bert", false);
  for (const auto& [text, outcome] : table.items()) {
    SCOPED_TRACE(text);
    if (outcome.contains("error")) {
      // huggingface_hub refuses binary units; hfcpp accepts them on purpose (dtype.h): 20 KiB.
      EXPECT_EQ(text, "20KiB");
      EXPECT_EQ(parse_size(text), 20480u);
      continue;
    }
    EXPECT_EQ(parse_size(text), 20000u);
    EXPECT_EQ(split_state_dict_into_shards(state, parse_size(text)).shards.size(),
              outcome["weight_files"].get<std::size_t>());
  }
}

at::Tensor floats(std::int64_t n) { return at::arange(n, at::kFloat); }

std::vector<std::string> files_of(const ShardPlan& plan) {
  std::vector<std::string> files;
  for (const auto& shard : plan.shards) files.push_back(shard.first);
  return files;
}

TEST(Split, TensorOverTheLimitGetsItsOwnShardBeforeTheCurrentOne) {
  StateDict state;
  state.insert("a", floats(4));      // 16 bytes
  state.insert("big", floats(100));  // 400 bytes > 100
  state.insert("b", floats(4));
  const ShardPlan plan = split_state_dict_into_shards(state, 100);
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_EQ(plan.shards[0], (std::pair<std::string, std::vector<std::string>>{"model-00001-of-00002.safetensors", {"big"}}));
  EXPECT_EQ(plan.shards[1], (std::pair<std::string, std::vector<std::string>>{"model-00002-of-00002.safetensors", {"a", "b"}}));
  EXPECT_EQ(plan.total_size, 432u);
}

TEST(Split, ExactlyFullShardIsNotSplit) {
  StateDict state;
  state.insert("a", floats(10));  // 40 bytes
  state.insert("b", floats(15));  // 60: 40 + 60 == 100, not over
  state.insert("c", floats(25));  // 100 == limit: a shard of its own, not "too big"
  state.insert("d", floats(1));
  const ShardPlan plan = split_state_dict_into_shards(state, 100);
  ASSERT_EQ(plan.shards.size(), 3u);
  EXPECT_EQ(plan.shards[0].second, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan.shards[1].second, (std::vector<std::string>{"c"}));
  EXPECT_EQ(plan.shards[2].second, (std::vector<std::string>{"d"}));
}

TEST(Split, SingleShardKeepsStateDictOrderAndPlainName) {
  StateDict state;
  state.insert("z", floats(2));
  state.insert("a", floats(3));
  state.insert("tied", state["z"]);
  const ShardPlan plan = split_state_dict_into_shards(state, 1000, "pytorch_model{suffix}.bin");
  EXPECT_FALSE(plan.is_sharded());
  ASSERT_EQ(plan.shards.size(), 1u);
  EXPECT_EQ(plan.shards[0].first, "pytorch_model.bin");
  EXPECT_EQ(plan.shards[0].second, (std::vector<std::string>{"z", "a", "tied"}));
  EXPECT_EQ(plan.total_size, 20u);
  EXPECT_EQ(shard_index_json(plan),
            "{\n  \"metadata\": {\n    \"total_size\": 20\n  },\n  \"weight_map\": {\n    \"a\": \"pytorch_model.bin\",\n"
            "    \"tied\": \"pytorch_model.bin\",\n    \"z\": \"pytorch_model.bin\"\n  }\n}\n");
}

TEST(Split, SizesAreWholeStoragesCountedOnce) {
  // Two views of one 400-byte storage: each counts the whole storage, once; they stay together
  // even when the second alone would fit elsewhere.
  const at::Tensor base = floats(100);
  StateDict state;
  state.insert("first_half", base.slice(0, 0, 50));
  state.insert("small", floats(1));
  state.insert("second_half", base.slice(0, 50, 100));
  const ShardPlan plan = split_state_dict_into_shards(state, 402);
  EXPECT_EQ(plan.total_size, 404u);
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_EQ(plan.shards[0].second, (std::vector<std::string>{"first_half", "second_half"}));
  EXPECT_EQ(plan.shards[1].second, (std::vector<std::string>{"small"}));
}

TEST(Split, DistinctStoragesOverTheSameMemoryAreOneStorage) {
  // huggingface_hub identifies storages by data pointer: two tensors over the same bytes (e.g. the
  // same mapped tensor loaded twice) count once.
  std::vector<float> memory(8, 1.0f);
  StateDict state;
  state.insert("a", at::from_blob(memory.data(), {8}, at::kFloat));
  state.insert("b", at::from_blob(memory.data(), {8}, at::kFloat));
  ASSERT_NE(state["a"].storage().unsafeGetStorageImpl(), state["b"].storage().unsafeGetStorageImpl());
  EXPECT_EQ(split_state_dict_into_shards(state, 1000).total_size, 32u);
}

TEST(Split, MetaPlaceholdersSharingAStorageStayTogether) {
  const at::Tensor shared = at::empty({10}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
  StateDict state;
  state.insert("w", shared);
  state.insert("x", at::empty({10}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta)));
  state.insert("tied", shared);
  const ShardPlan plan = split_state_dict_into_shards(state, 40);
  EXPECT_EQ(plan.total_size, 80u);
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_EQ(plan.shards[0].second, (std::vector<std::string>{"w", "tied"}));
  EXPECT_EQ(plan.shards[1].second, (std::vector<std::string>{"x"}));
}

TEST(Split, TiedToATensorOverTheLimit) {
  StateDict state;
  state.insert("embed", floats(100));
  state.insert("norm", floats(2));
  state.insert("head", state["embed"]);
  const ShardPlan plan = split_state_dict_into_shards(state, 100);
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_EQ(plan.shards[0].second, (std::vector<std::string>{"embed", "head"}));
  EXPECT_EQ(plan.shards[1].second, (std::vector<std::string>{"norm"}));
  EXPECT_EQ(plan.total_size, 408u);
}

TEST(Split, PatternWithoutSuffixIsRefused) {
  StateDict state;
  state.insert("a", floats(1));
  EXPECT_THROW(split_state_dict_into_shards(state, 10, "model.safetensors"), ValueError);
}

TEST(Variant, NamesAsTransformers446) {
  EXPECT_EQ(add_variant(kSafeWeightsName, "fp16"), "model.fp16.safetensors");
  EXPECT_EQ(add_variant(kWeightsName, "fp16"), "pytorch_model.fp16.bin");
  // _add_variant splits at the last dot, so the variant lands before ".json".
  EXPECT_EQ(add_variant(kSafeWeightsIndexName, "fp16"), "model.safetensors.index.fp16.json");
  EXPECT_EQ(add_variant(kWeightsIndexName, "fp16"), "pytorch_model.bin.index.fp16.json");
  EXPECT_EQ(add_variant(kSafeWeightsName, ""), "model.safetensors");
}

TEST(Variant, ShardNamesCarryTheVariant) {
  StateDict state;
  state.insert("a", floats(10));
  state.insert("b", floats(10));
  const ShardPlan sharded = split_state_dict_into_shards(state, 40, "model.fp16{suffix}.safetensors");
  EXPECT_EQ(files_of(sharded),
            (std::vector<std::string>{"model.fp16-00001-of-00002.safetensors", "model.fp16-00002-of-00002.safetensors"}));
  EXPECT_EQ(files_of(split_state_dict_into_shards(state, 80, "model.fp16{suffix}.safetensors")),
            (std::vector<std::string>{"model.fp16.safetensors"}));
}

}  // namespace
}  // namespace hfcpp
