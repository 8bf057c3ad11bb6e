// The fused attention kernel against reference_attention (the eager math), for every
// instruction set this CPU has: shapes, GQA, causal decoding with a cache, masks, fully masked
// rows, strided inputs, bf16, and the fallbacks of scaled_dot_product_attention.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "../../src/nn/attention_kernel.h"
#include "hfcpp/error.h"
#include "hfcpp/nn/attention.h"
#include "test_support.h"

namespace hfcpp::nn {
namespace {

using detail::KernelIsa;
using testing::tensors_close;

constexpr float kFinfoMin = std::numeric_limits<float>::lowest();

bool cpu_has(KernelIsa isa) {
#if defined(__x86_64__)
  if (isa == KernelIsa::kAvx512) return __builtin_cpu_supports("avx512f");
  if (isa == KernelIsa::kAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
#else
  return isa == KernelIsa::kGeneric;
#endif
}

std::string isa_name(const ::testing::TestParamInfo<KernelIsa>& info) {
  switch (info.param) {
    case KernelIsa::kAvx512: return "avx512";
    case KernelIsa::kAvx2: return "avx2";
    default: return "generic";
  }
}

double tolerance(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 2e-2 : 1e-5; }

struct Inputs {
  at::Tensor query, key, value;
};

// query [B, Hq, Lq, D], key/value [B, Hkv, Lk, D], standard normal.
Inputs random_inputs(std::int64_t batch, std::int64_t query_heads, std::int64_t kv_heads, std::int64_t query_len,
                     std::int64_t kv_len, std::int64_t dim, at::ScalarType dtype = at::kFloat) {
  return {at::randn({batch, query_heads, query_len, dim}).to(dtype),
          at::randn({batch, kv_heads, kv_len, dim}).to(dtype), at::randn({batch, kv_heads, kv_len, dim}).to(dtype)};
}

class FusedAttention : public ::testing::TestWithParam<KernelIsa> {
 protected:
  void SetUp() override {
    if (!cpu_has(GetParam())) GTEST_SKIP() << "this CPU lacks the instruction set";
    at::manual_seed(0);
  }

  at::Tensor fused(const Inputs& in, const at::Tensor& mask = {}, const AttentionOptions& options = {}) const {
    return detail::fused_attention(in.query, in.key, in.value, mask, options, GetParam());
  }

  // The fused result equals the reference within the dtype's tolerance.
  ::testing::AssertionResult matches_reference(const Inputs& in, const at::Tensor& mask = {},
                                               const AttentionOptions& options = {}) const {
    const at::Tensor expected = reference_attention(in.query, in.key, in.value, mask, options);
    const at::Tensor actual = fused(in, mask, options);
    if (actual.isnan().any().item<bool>()) return ::testing::AssertionFailure() << "NaN in the output";
    return tensors_close(actual, expected, tolerance(in.query.scalar_type()));
  }
};

INSTANTIATE_TEST_SUITE_P(Isa, FusedAttention,
                         ::testing::Values(KernelIsa::kGeneric, KernelIsa::kAvx2, KernelIsa::kAvx512), isa_name);

struct Shape {
  std::int64_t batch, query_heads, kv_heads, query_len, kv_len, dim;
};

// Head dims around the vector widths (4, 8, 16 floats) and not multiples of them; lengths around
// the 64-row / 64-key tiles; Lk > Lq as when decoding with a cache; MHA and GQA.
const std::vector<Shape> kShapes = {
    {1, 4, 4, 1, 1, 8},      {2, 4, 4, 7, 7, 8},      {1, 4, 4, 64, 64, 64},    {3, 4, 4, 70, 70, 13},
    {1, 8, 2, 1, 300, 64},   {2, 8, 2, 5, 133, 40},   {1, 8, 2, 65, 65, 16},    {1, 32, 4, 1, 129, 128},
    {2, 32, 4, 3, 67, 72},   {1, 32, 4, 17, 300, 24}, {1, 4, 4, 70, 300, 128},  {1, 4, 4, 33, 48, 100},
    {2, 8, 2, 64, 128, 64},  {1, 4, 4, 1, 300, 64},   {1, 12, 12, 1, 257, 64},  {1, 4, 4, 9, 9, 5},
};

TEST_P(FusedAttention, EqualsReferenceOverShapes) {
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const Shape& s : kShapes) {
      const Inputs in = random_inputs(s.batch, s.query_heads, s.kv_heads, s.query_len, s.kv_len, s.dim, dtype);
      for (const bool causal : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "dtype " << dtype << " B " << s.batch << " Hq " << s.query_heads
                                          << " Hkv " << s.kv_heads << " Lq " << s.query_len << " Lk " << s.kv_len
                                          << " D " << s.dim << " causal " << causal);
        EXPECT_TRUE(matches_reference(in, {}, {.is_causal = causal}));
      }
    }
  }
}

TEST_P(FusedAttention, OutputHasTheQuerysShapeAndDtype) {
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const Inputs in = random_inputs(2, 8, 2, 3, 11, 16, dtype);
    const at::Tensor out = fused(in);
    EXPECT_EQ(out.sizes(), in.query.sizes());
    EXPECT_EQ(out.scalar_type(), dtype);
    EXPECT_TRUE(out.is_contiguous());
  }
}

// Transformers' padding mask: 0 for real tokens, finfo.min for padding, [B, 1, 1, Lk].
at::Tensor additive_padding_mask(const at::Tensor& keep) {
  return at::zeros(keep.sizes()).masked_fill(keep.logical_not(), kFinfoMin).view({keep.size(0), 1, 1, keep.size(1)});
}

// Left padding of 0, 3 and 70 tokens in a batch of 3 (the last row is all padding).
at::Tensor left_padding_keep(std::int64_t kv_len) {
  at::Tensor keep = at::ones({3, kv_len}, at::kBool);
  keep.index_put_({1, at::indexing::Slice(0, 3)}, false);
  keep.index_put_({2, at::indexing::Slice(0, std::min<std::int64_t>(70, kv_len))}, false);
  return keep;
}

TEST_P(FusedAttention, PaddingMasksAdditiveAndBool) {
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const auto& [query_len, kv_len] : {std::pair<std::int64_t, std::int64_t>{1, 150}, {9, 9}, {70, 70}, {5, 133}}) {
      const Inputs in = random_inputs(3, 8, 2, query_len, kv_len, 32, dtype);
      const at::Tensor keep = left_padding_keep(kv_len);
      for (const bool causal : {false, true}) {
        SCOPED_TRACE(::testing::Message() << dtype << " Lq " << query_len << " Lk " << kv_len << " causal " << causal);
        EXPECT_TRUE(matches_reference(in, additive_padding_mask(keep), {.is_causal = causal}));
        EXPECT_TRUE(matches_reference(in, keep.view({3, 1, 1, kv_len}), {.is_causal = causal}));
        EXPECT_TRUE(matches_reference(in, additive_padding_mask(keep).to(dtype), {.is_causal = causal}));
      }
    }
  }
}

TEST_P(FusedAttention, FullFourDimensionalMasks) {
  const Inputs in = random_inputs(2, 8, 2, 70, 100, 24);
  // Per batch, per head, broadcast over heads, and a bare [Lq, Lk] mask.
  EXPECT_TRUE(matches_reference(in, at::randn({2, 1, 70, 100}) * 3));
  EXPECT_TRUE(matches_reference(in, at::randn({2, 8, 70, 100}) * 3, {.is_causal = true}));
  EXPECT_TRUE(matches_reference(in, at::rand({2, 8, 70, 100}) > 0.3));
  EXPECT_TRUE(matches_reference(in, at::rand({1, 1, 70, 100}) > 0.5, {.is_causal = true}));
  EXPECT_TRUE(matches_reference(in, at::randn({70, 100})));
  EXPECT_TRUE(matches_reference(in, at::randn({70, 1})));  // broadcast over keys
  EXPECT_TRUE(matches_reference(in, at::randn({2, 1, 70, 100}).to(at::kDouble)));
}

// Transformers' eager 4-D mask for a left-padded batch: finfo.min above the end-aligned diagonal
// and on padding, combined with masked_fill (no is_causal flag).
at::Tensor transformers_causal_mask(const at::Tensor& keep, std::int64_t query_len) {
  const std::int64_t kv_len = keep.size(1);
  const at::Tensor future = at::ones({query_len, kv_len}, at::kBool).triu(kv_len - query_len + 1);
  const at::Tensor excluded = future.view({1, 1, query_len, kv_len}).logical_or(keep.logical_not().view({keep.size(0), 1, 1, kv_len}));
  return at::zeros({keep.size(0), 1, query_len, kv_len}).masked_fill(excluded, kFinfoMin);
}

TEST_P(FusedAttention, TransformersCausalPaddingMask) {
  for (const auto& [query_len, kv_len] : {std::pair<std::int64_t, std::int64_t>{70, 70}, {4, 100}}) {
    const Inputs in = random_inputs(3, 4, 4, query_len, kv_len, 16);
    const at::Tensor mask = transformers_causal_mask(left_padding_keep(kv_len), query_len);
    EXPECT_TRUE(matches_reference(in, mask));
    EXPECT_TRUE(matches_reference(in, mask, {.is_causal = true}));
  }
}

// Rows with every key masked by finfo.min: softmax of equal scores, the uniform average of all
// values, which is what Transformers' eager attention gives for left-padding query rows.
TEST_P(FusedAttention, FullyMaskedRowsAverageAllValues) {
  const std::int64_t query_len = 70, kv_len = 70;
  const Inputs in = random_inputs(3, 4, 4, query_len, kv_len, 16);
  const at::Tensor keep = left_padding_keep(kv_len);
  const at::Tensor uniform = in.value.mean(2, /*keepdim=*/true);  // [B, H, 1, D]
  for (const at::Tensor& mask : {additive_padding_mask(keep), keep.view({3, 1, 1, kv_len})}) {
    const at::Tensor out = fused(in, mask, {.is_causal = true});
    // Batch 1: query rows 0-2 see only padding; batch 2: every row sees only padding.
    EXPECT_TRUE(tensors_close(out.index({1, at::indexing::Slice(), at::indexing::Slice(0, 3)}),
                              uniform[1].expand({4, 3, 16}), 1e-5));
    EXPECT_TRUE(tensors_close(out[2], uniform[2].expand({4, query_len, 16}), 1e-5));
    EXPECT_TRUE(matches_reference(in, mask, {.is_causal = true}));
  }
  // More queries than keys: the first rows see no key at all through is_causal alone.
  const Inputs wide = random_inputs(1, 4, 4, 10, 4, 16);
  const at::Tensor out = fused(wide, {}, {.is_causal = true});
  EXPECT_TRUE(tensors_close(out.index({0, at::indexing::Slice(), at::indexing::Slice(0, 6)}),
                            wide.value.mean(2, true)[0].expand({4, 6, 16}), 1e-5));
  EXPECT_TRUE(matches_reference(wide, {}, {.is_causal = true}));
}

// A -inf additive mask over a whole row leaves nothing to attend to: 0, not NaN, in both paths.
TEST_P(FusedAttention, MinusInfinityRowsAreZero) {
  const Inputs in = random_inputs(1, 4, 4, 70, 90, 16);
  at::Tensor mask = at::zeros({1, 1, 70, 90});
  mask.index_put_({0, 0, 5}, -std::numeric_limits<float>::infinity());
  mask.index_put_({0, 0, 6, at::indexing::Slice(0, 89)}, -std::numeric_limits<float>::infinity());
  const at::Tensor out = fused(in, mask);
  EXPECT_FALSE(out.isnan().any().item<bool>());
  EXPECT_TRUE(tensors_close(out.index({0, at::indexing::Slice(), 5}), at::zeros({4, 16}), 0.0));
  EXPECT_TRUE(matches_reference(in, mask));
  // Still -inf on its own keys, but is_causal leaves finfo.min keys after it: those win.
  EXPECT_TRUE(matches_reference(in, mask, {.is_causal = true}));
}

TEST_P(FusedAttention, LargeScoresStayFinite) {
  Inputs in = random_inputs(1, 4, 4, 65, 200, 32);
  in.query = in.query * 40;  // scores in the thousands: the online softmax must rescale exactly
  const at::Tensor expected = reference_attention(in.query, in.key, in.value);
  EXPECT_TRUE(tensors_close(fused(in), expected, 1e-4));
}

TEST_P(FusedAttention, StridedInputs) {
  // Projections come out as [B, L, H, D]; attention gets their transposed views.
  const at::Tensor q = at::randn({2, 70, 8, 40}), k = at::randn({2, 90, 2, 40}), v = at::randn({2, 90, 2, 40});
  const Inputs views{q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)};
  ASSERT_FALSE(views.query.is_contiguous());
  EXPECT_TRUE(matches_reference(views, {}, {.is_causal = true}));
  // A slice of a larger KV cache (static cache): rows strided by the full capacity.
  const at::Tensor cache = at::randn({1, 4, 512, 64});
  const Inputs cached{at::randn({1, 4, 1, 64}), cache.narrow(2, 0, 300), cache.narrow(2, 0, 300) * 2};
  EXPECT_TRUE(matches_reference(cached, {}, {.is_causal = true}));
  // Head dim not contiguous at all, and a transposed mask.
  const Inputs odd{at::randn({1, 4, 16, 9}).transpose(2, 3), at::randn({1, 4, 16, 20}).transpose(2, 3),
                   at::randn({1, 4, 20, 16})};
  const at::Tensor mask = at::randn({1, 1, 20, 9}).transpose(2, 3);
  EXPECT_TRUE(matches_reference(odd, mask));
  const Inputs bf16{views.query.to(at::kBFloat16), views.key.to(at::kBFloat16), views.value.to(at::kBFloat16)};
  EXPECT_TRUE(matches_reference(bf16, {}, {.is_causal = true}));
}

TEST_P(FusedAttention, ScaleOverride) {
  const Inputs in = random_inputs(1, 8, 2, 20, 70, 32);
  EXPECT_TRUE(matches_reference(in, {}, {.scale = 0.5}));
  EXPECT_TRUE(matches_reference(in, {}, {.is_causal = true, .scale = 1.0}));
  // GPT-2 with scale_attn_weights = false: no scaling at all.
  const at::Tensor unscaled = fused(in, {}, {.scale = 1.0});
  EXPECT_FALSE(tensors_close(unscaled, fused(in), 1e-3));
}

// Bf16 accumulates in float32: against the float32 reference on the same (bf16) values the only
// error left is the output's rounding.
TEST_P(FusedAttention, BFloat16AccumulatesInFloat32) {
  const Inputs in = random_inputs(1, 8, 2, 70, 300, 64, at::kBFloat16);
  const at::Tensor exact = reference_attention(in.query.to(at::kFloat), in.key.to(at::kFloat),
                                               in.value.to(at::kFloat), {}, {.is_causal = true});
  const at::Tensor out = fused(in, {}, {.is_causal = true});
  const double max_error = (out.to(at::kFloat) - exact).abs().max().item<double>();
  const double max_value = exact.abs().max().item<double>();
  EXPECT_LE(max_error, max_value * std::ldexp(1.0, -8));  // half a bf16 ulp of the largest output
}

TEST_P(FusedAttention, EmptyInputs) {
  const Inputs no_keys = random_inputs(1, 4, 4, 3, 0, 8);
  EXPECT_TRUE(tensors_close(fused(no_keys), at::zeros({1, 4, 3, 8}), 0.0));
  EXPECT_TRUE(matches_reference(no_keys));
  EXPECT_EQ(fused(random_inputs(1, 4, 4, 0, 5, 8)).sizes(), (std::vector<std::int64_t>{1, 4, 0, 8}));
  EXPECT_EQ(fused(random_inputs(0, 4, 4, 3, 5, 8)).numel(), 0);
}

// ---- scaled_dot_product_attention: dispatch and fallbacks

TEST(ScaledDotProductAttention, UsesTheKernelAndMatchesReference) {
  at::manual_seed(1);
  const Inputs in = random_inputs(2, 8, 2, 33, 80, 64);
  const at::Tensor out = scaled_dot_product_attention(in.query, in.key, in.value, {}, {.is_causal = true});
  EXPECT_TRUE(tensors_close(out, reference_attention(in.query, in.key, in.value, {}, {.is_causal = true}), 1e-5));
  const std::string isa = attention_kernel_isa();
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "generic") << isa;
}

TEST(ScaledDotProductAttention, FallsBackToReferenceForAutograd) {
  at::manual_seed(2);
  const Inputs in = random_inputs(1, 4, 2, 6, 10, 8);
  const at::Tensor query = in.query.clone().requires_grad_(true);
  const at::Tensor out = scaled_dot_product_attention(query, in.key, in.value, {}, {.is_causal = true});
  ASSERT_TRUE(out.requires_grad());
  out.sum().backward();
  ASSERT_TRUE(query.grad().defined());
  EXPECT_GT(query.grad().abs().sum().item<double>(), 0.0);
  {
    c10::NoGradGuard no_grad;  // inference: the kernel, no graph
    const at::Tensor fused = scaled_dot_product_attention(query, in.key, in.value, {}, {.is_causal = true});
    EXPECT_FALSE(fused.requires_grad());
    EXPECT_TRUE(tensors_close(fused, out.detach(), 1e-5));
  }
}

TEST(ScaledDotProductAttention, DropoutTakesTheReferencePath) {
  at::manual_seed(3);
  const Inputs in = random_inputs(1, 4, 4, 8, 8, 8);
  const at::Tensor plain = scaled_dot_product_attention(in.query, in.key, in.value);
  const at::Tensor dropped = scaled_dot_product_attention(in.query, in.key, in.value, {}, {.dropout_p = 0.5});
  EXPECT_EQ(dropped.sizes(), plain.sizes());
  EXPECT_FALSE(tensors_close(dropped, plain, 1e-3));
}

TEST(ScaledDotProductAttention, OtherDtypesTakeTheReferencePath) {
  at::manual_seed(4);
  const Inputs in = random_inputs(1, 4, 4, 5, 7, 8, at::kDouble);
  const at::Tensor out = scaled_dot_product_attention(in.query, in.key, in.value, {}, {.is_causal = true});
  EXPECT_EQ(out.scalar_type(), at::kDouble);
  EXPECT_TRUE(tensors_close(out, reference_attention(in.query, in.key, in.value, {}, {.is_causal = true}), 1e-12));
}

void expect_value_error(const Inputs& in, const at::Tensor& mask, const std::string& fragment) {
  try {
    scaled_dot_product_attention(in.query, in.key, in.value, mask);
    ADD_FAILURE() << "no ValueError for " << fragment;
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_NE(message.find("query [") , std::string::npos) << message;  // names the shapes
  }
}

TEST(ScaledDotProductAttention, ShapeErrorsNameTheShapes) {
  const Inputs good = random_inputs(2, 8, 2, 3, 5, 16);
  expect_value_error({good.query, good.key, good.value.narrow(2, 0, 4)}, {}, "same shape");
  expect_value_error({good.query.narrow(0, 0, 1), good.key, good.value}, {}, "batch");
  expect_value_error({good.query.narrow(3, 0, 8), good.key, good.value}, {}, "head_dim");
  expect_value_error(random_inputs(1, 6, 4, 3, 5, 16), {}, "multiple");
  expect_value_error({good.query[0], good.key, good.value}, {}, "4-D");
  expect_value_error(good, at::zeros({2, 1, 1, 4}), "broadcast");
  expect_value_error(good, at::zeros({3, 1, 3, 5}), "broadcast");
  expect_value_error(good, at::zeros({2, 1, 3, 5}, at::kInt), "bool");
  expect_value_error({good.query, good.key.to(at::kDouble), good.value}, {}, "one dtype");
  // The reference checks the same way.
  EXPECT_THROW(reference_attention(good.query, good.key.narrow(1, 0, 1).expand({2, 3, 5, 16}), good.value),
               ValueError);
}

}  // namespace
}  // namespace hfcpp::nn
