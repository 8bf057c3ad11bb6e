// KV caches, the causal mask built from cache positions, and the thread configuration.
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/attention_masks.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/runtime.h"
#include "test_support.h"

namespace hfcpp {
namespace {

at::Tensor kv(std::int64_t tokens, float base) {
  return at::arange(2 * 2 * tokens * 3, at::kFloat).view({2, 2, tokens, 3}).add(base);
}

TEST(DynamicCache, GrowsByConcatenation) {
  DynamicCache cache;
  EXPECT_EQ(cache.get_seq_length(), 0);
  EXPECT_FALSE(cache.get_max_length());
  auto [k1, v1] = cache.update(kv(3, 0), kv(3, 100), 0, at::arange(3, at::kLong));
  EXPECT_EQ(k1.size(2), 3);
  cache.update(kv(3, 0), kv(3, 100), 1, at::arange(3, at::kLong));
  auto [k2, v2] = cache.update(kv(1, 50), kv(1, 150), 0, at::tensor({3}, at::kLong));
  EXPECT_EQ(k2.size(2), 4);
  EXPECT_TRUE(k2.narrow(2, 3, 1).equal(kv(1, 50)));
  EXPECT_EQ(cache.get_seq_length(0), 4);
  EXPECT_EQ(cache.get_seq_length(1), 3);
  EXPECT_THROW(cache.update(kv(1, 0), kv(1, 0), 5, at::tensor({0}, at::kLong)), ValueError);

  cache.reorder_cache(at::tensor({1, 1}, at::kLong));
  const auto legacy = cache.to_legacy_cache();
  EXPECT_TRUE(legacy[0].first[0].equal(legacy[0].first[1]));
  EXPECT_TRUE(legacy[0].first[0].equal(k2[1]));
  cache.crop(2);
  EXPECT_EQ(cache.get_seq_length(0), 2);
  auto restored = DynamicCache::from_legacy_cache(cache.to_legacy_cache());
  EXPECT_EQ(restored->get_seq_length(1), 2);
}

TEST(StaticCache, WritesInPlaceWithoutReallocating) {
  StaticCache cache({/*num_layers=*/2, /*num_kv_heads=*/2, /*head_dim=*/3}, /*batch_size=*/2, /*max_length=*/6);
  EXPECT_EQ(cache.get_max_length(), 6);
  auto [k, v] = cache.update(kv(3, 1), kv(3, 101), 0, at::arange(3, at::kLong));
  EXPECT_EQ(k.sizes(), (std::vector<std::int64_t>{2, 2, 6, 3}));
  const void* storage = k.data_ptr();
  EXPECT_TRUE(k.narrow(2, 0, 3).equal(kv(3, 1)));
  EXPECT_TRUE(k.narrow(2, 3, 3).eq(0).all().item<bool>());  // unwritten slots
  for (std::int64_t step = 3; step < 6; ++step) {
    auto [k_step, v_step] = cache.update(kv(1, 10.f * step), kv(1, 0), 0, at::tensor({step}, at::kLong));
    EXPECT_EQ(k_step.data_ptr(), storage);
    EXPECT_TRUE(k_step.narrow(2, step, 1).equal(kv(1, 10.f * step)));
  }
  EXPECT_EQ(cache.get_seq_length(0), 6);
  EXPECT_EQ(cache.get_seq_length(1), 0);
  EXPECT_EQ(cache.to_legacy_cache()[0].first.size(2), 6);
  EXPECT_EQ(cache.to_legacy_cache()[1].first.size(2), 0);
  EXPECT_THROW(cache.update(kv(1, 0), kv(1, 0), 0, at::tensor({0}, at::kLong)), ValueError);  // full
  EXPECT_THROW(cache.update(kv(1, 0), kv(1, 0), 2, at::tensor({0}, at::kLong)), ValueError);  // no layer 2

  const at::Tensor row1 = k[1].clone();
  cache.reorder_cache(at::tensor({1, 1}, at::kLong));
  EXPECT_EQ(cache.to_legacy_cache()[0].first.data_ptr(), storage);
  EXPECT_TRUE(k[0].equal(row1));
  cache.reset();
  EXPECT_EQ(cache.get_seq_length(0), 0);
  EXPECT_TRUE(k.eq(0).all().item<bool>());
  EXPECT_THROW(StaticCache({2, 2, 3}, 0, 6), ValueError);
}

TEST(CacheShape, ReadsGQAAndHeadDimFromTheConfig) {
  PretrainedConfig config;
  config.update({{"num_hidden_layers", 3}, {"num_attention_heads", 8}, {"hidden_size", 64}});
  EXPECT_EQ(cache_shape_of(config).num_kv_heads, 8);
  EXPECT_EQ(cache_shape_of(config).head_dim, 8);
  config.update({{"num_key_value_heads", 2}, {"head_dim", 16}});
  const CacheShape shape = cache_shape_of(config);
  EXPECT_EQ(shape.num_layers, 3);
  EXPECT_EQ(shape.num_kv_heads, 2);
  EXPECT_EQ(shape.head_dim, 16);
}

// --- causal masks ---

TEST(CausalMask, HidesTheFuturePaddingAndKeysOutsideTheWindow) {
  const float lowest = std::numeric_limits<float>::lowest();
  // Three queries at positions 2..4 over 6 keys; key 0 is padding.
  const at::Tensor mask = causal_mask_with_cache_position(at::tensor({0, 1, 1, 1, 1}, at::kLong).view({1, 5}), 3, 6,
                                                          at::kFloat, at::arange(2, 5, at::kLong), 1);
  ASSERT_EQ(mask.sizes(), (std::vector<std::int64_t>{1, 1, 3, 6}));
  const at::Tensor visible = mask[0][0].eq(0);
  const at::Tensor expected = at::tensor({0, 1, 1, 0, 0, 0,  //
                                          0, 1, 1, 1, 0, 0,  //
                                          0, 1, 1, 1, 1, 0},
                                         at::kLong)
                                  .view({3, 6})
                                  .to(at::kBool);
  EXPECT_TRUE(visible.equal(expected)) << mask;
  EXPECT_TRUE(mask[0][0].masked_select(visible.logical_not()).eq(lowest).all().item<bool>());
  // A window of 2 keeps the query and the one before it.
  const at::Tensor windowed =
      causal_mask_with_cache_position({}, 3, 6, at::kFloat, at::arange(2, 5, at::kLong), 1, /*sliding_window=*/2);
  const at::Tensor in_window = at::tensor({0, 1, 1, 0, 0, 0,  //
                                           0, 0, 1, 1, 0, 0,  //
                                           0, 0, 0, 1, 1, 0},
                                          at::kLong)
                                   .view({3, 6})
                                   .to(at::kBool);
  EXPECT_TRUE(windowed[0][0].eq(0).equal(in_window));
  // bf16 masks use bf16's lowest value; 4-D masks pass through.
  EXPECT_EQ(causal_mask_with_cache_position({}, 2, 2, at::kBFloat16, at::arange(2, at::kLong), 1).scalar_type(),
            at::kBFloat16);
  const at::Tensor four_d = at::zeros({1, 1, 2, 2});
  EXPECT_TRUE(causal_mask_with_cache_position(four_d, 2, 2, at::kFloat, at::arange(2, at::kLong), 1).is_same(four_d));
  EXPECT_THROW(causal_mask_with_cache_position(at::ones({1, 7}, at::kLong), 2, 6, at::kFloat, at::arange(2, at::kLong), 1),
               ValueError);
}

TEST(AttentionImplementation, DispatchAsTransformers) {
  PretrainedConfig config;
  EXPECT_EQ(resolve_attn_implementation(config, "X", false), "eager");
  EXPECT_EQ(config.attn_implementation(), "eager");
  config.set_attn_implementation("flash_attention_2");
  EXPECT_THROW(resolve_attn_implementation(config, "X", true), UnsupportedError);
  config.set_attn_implementation("fast");
  EXPECT_THROW(resolve_attn_implementation(config, "X", true), ValueError);
  config.set_attn_implementation("sdpa");
  EXPECT_THROW(resolve_attn_implementation(config, "X", false), ValueError);
  PretrainedConfig automatic;
  EXPECT_EQ(resolve_attn_implementation(automatic, "X", true), fused_attention_available() ? "sdpa" : "eager");
}

// --- threads ---

TEST(Threads, EnvironmentOrUserChoiceWins) {
  const ThreadConfig chosen = configure_threads();
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr && std::atoi(env) > 0) {
    EXPECT_EQ(chosen.source, "OMP_NUM_THREADS");
    EXPECT_EQ(chosen.torch_threads, std::atoi(env));
  } else {
    EXPECT_EQ(chosen.source, "auto");
  }
  EXPECT_EQ(configure_threads().source, chosen.source);  // once per process
  const ThreadConfig user = set_threads(1, 1);
  EXPECT_EQ(user.source, "user");
  EXPECT_EQ(user.torch_threads, 1);
  if (user.blas_threads > 0) EXPECT_EQ(user.blas_threads, 1);
  EXPECT_EQ(configure_threads().source, "user");
  EXPECT_NE(describe(user).find("torch 1"), std::string::npos);
  EXPECT_GE(available_cores(), 1);
}

}  // namespace
}  // namespace hfcpp
