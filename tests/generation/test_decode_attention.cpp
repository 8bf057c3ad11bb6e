// The decoding step's attention kernel and the gated gate/up projection against float64 references
// computed from the same values: head sizes with a register kernel (64) and without (48), grouped
// query heads, lengths with partial vectors, additive and int64 padding masks with blocked
// positions, both dtypes, and the scalar path that ATEN_CPU_CAPABILITY=default selects.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "../../src/generation/decode_kernels.h"
#include "hfcpp/error.h"
#include "hfcpp/generation/cache.h"
#include "hfcpp/runtime.h"

namespace hfcpp {
namespace {

namespace k = detail::decode;

struct AttentionCase {
  at::ScalarType dtype;
  std::int64_t heads, kv_heads, head_dim, length;
  bool masked;
  std::string isa;  // "" = this CPU's best, "default" = the scalar loops
  bool padding_mask = false;  // the mask as generate()'s int64 keep-mask instead of additive
};

class DecodeAttention : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(DecodeAttention, EqualsSoftmaxOfScaledScoresTimesValuesInFloat64) {
  const AttentionCase c = GetParam();
  if (!c.isa.empty()) setenv("ATEN_CPU_CAPABILITY", c.isa.c_str(), 1);  // read once; ctest runs each test alone
  set_threads(2, 1);
  at::manual_seed(3);
  const std::int64_t rows = 2, capacity = c.length + 7;
  const at::Tensor q = at::randn({rows, c.heads, c.head_dim}).to(c.dtype);
  // Positions past `length` hold values the kernel must not read: NaN would poison any sum.
  const at::Tensor keys = at::full({rows, c.kv_heads, capacity, c.head_dim}, NAN).to(c.dtype);
  const at::Tensor values = keys.clone();
  keys.narrow(2, 0, c.length).copy_(at::randn({rows, c.kv_heads, c.length, c.head_dim}) * 2);
  values.narrow(2, 0, c.length).copy_(at::randn({rows, c.kv_heads, c.length, c.head_dim}));
  at::Tensor mask;
  if (c.masked) {  // row 0 blocks its first three positions (left padding), row 1 none
    mask = at::zeros({rows, capacity}, c.dtype);
    const double lowest = c.dtype == at::kFloat ? std::numeric_limits<float>::lowest()
                                                : static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    mask[0].narrow(0, 0, 3).fill_(lowest);  // the additive mask's "blocked", as Transformers builds it
  }
  at::Tensor out = at::empty({rows, c.heads, c.head_dim}, c.dtype);
  const double divisor = std::sqrt(static_cast<double>(c.head_dim));
  k::attention(q, keys, values, c.length, c.padding_mask ? mask.eq(0).to(at::kLong) : mask, divisor, out);

  const std::int64_t group = c.heads / c.kv_heads;
  const at::Tensor k64 = keys.narrow(2, 0, c.length).to(at::kDouble).repeat_interleave(group, 1);
  const at::Tensor v64 = values.narrow(2, 0, c.length).to(at::kDouble).repeat_interleave(group, 1);
  at::Tensor scores = at::matmul(q.to(at::kDouble).unsqueeze(2), k64.transpose(-1, -2)) / divisor;  // [rows, H, 1, L]
  if (c.masked) scores = scores + mask.narrow(1, 0, c.length).to(at::kDouble).view({rows, 1, 1, c.length});
  const at::Tensor expected = at::matmul(at::softmax(scores, -1), v64).squeeze(2);
  // float32: summation order only; bfloat16: scores, probabilities and output rounded to 8 bits.
  const double tolerance = c.dtype == at::kFloat ? 1e-5 : 3e-2;
  EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, tolerance, tolerance))
      << (out.to(at::kDouble) - expected).abs().max().item<double>();
  EXPECT_FALSE(out.isnan().any().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, DecodeAttention,
    ::testing::Values(AttentionCase{at::kFloat, 4, 4, 64, 37, true, ""}, AttentionCase{at::kBFloat16, 4, 4, 64, 37, true, ""},
                      AttentionCase{at::kFloat, 6, 2, 64, 16, false, ""}, AttentionCase{at::kBFloat16, 6, 2, 128, 50, true, ""},
                      AttentionCase{at::kFloat, 4, 2, 48, 21, true, ""}, AttentionCase{at::kBFloat16, 4, 2, 48, 21, false, ""},
                      AttentionCase{at::kFloat, 4, 2, 64, 37, true, "default"},
                      AttentionCase{at::kBFloat16, 4, 4, 64, 37, true, "default"},
                      AttentionCase{at::kFloat, 4, 2, 64, 37, true, "", true},
                      AttentionCase{at::kBFloat16, 6, 2, 128, 50, true, "", true},
                      AttentionCase{at::kBFloat16, 4, 2, 48, 21, true, "", true},
                      AttentionCase{at::kFloat, 4, 2, 64, 37, true, "default", true}));

// silu(x gate^T + b) * (x up^T + c) in one pass equals the two projections one at a time followed by
// silu and the product on the rounded outputs, as the eager MLP computes them.
TEST(DecodeLinear, GatedProjectionEqualsSiluOfTheGateTimesTheUpProjection) {
  set_threads(2, 1);
  at::manual_seed(8);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = at::randn({2, 96}).to(dtype);
    const at::Tensor gate = at::randn({70, 96}).to(dtype), up = at::randn({70, 96}).to(dtype);
    const at::Tensor gate_bias = at::randn({70}).to(dtype), up_bias = at::randn({70}).to(dtype);
    const at::Tensor none;
    at::Tensor gated = at::empty({2, 70}, dtype), gate_out = at::empty({2, 70}, dtype), up_out = at::empty({2, 70}, dtype);
    k::linear_many(x, {{gate, gate_bias, none, gated, &up, &up_bias}});
    k::linear(x, gate, gate_bias, none, gate_out);
    k::linear(x, up, up_bias, none, up_out);
    // silu in float32, rounded once to the dtype, as PyTorch 2 computes it (libtorch 1.13 rounds each
    // step of a bfloat16 silu to bfloat16: up to two units in the last place away).
    const at::Tensor activated = at::silu(gate_out.to(at::kFloat)).to(dtype);
    const at::Tensor expected = (activated.to(at::kFloat) * up_out.to(at::kFloat)).to(dtype);
    // libtorch's vectorised exp and expf differ in the last bit of a float32, which can move a
    // bfloat16 rounding by one unit (2^-8 relative).
    const double relative = dtype == at::kFloat ? 1e-6 : 1.0 / 256, absolute = dtype == at::kFloat ? 1e-6 : 0.0;
    EXPECT_TRUE(at::allclose(gated.to(at::kDouble), expected.to(at::kDouble), relative, absolute)) << dtype;
  }
  const at::Tensor w = at::zeros({4, 8}), wrong = at::zeros({5, 8});
  at::Tensor out = at::empty({1, 4});
  const at::Tensor none;
  EXPECT_THROW(k::linear_many(at::zeros({1, 8}), {{w, none, none, out, &wrong}}), ValueError);
}

// The static cache writes a decoding step's keys with row copies; the result must be index_copy_'s,
// and a position outside the cache an error.
TEST(StaticCacheWrite, RowCopiesEqualIndexCopyAndPositionsAreChecked) {
  CacheShape shape;
  shape.num_layers = 1;
  shape.num_kv_heads = 3;
  shape.head_dim = 8;
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    StaticCache cache(shape, 2, 10, dtype, c10::Device(c10::DeviceType::CPU));
    at::Tensor reference = at::zeros({2, 3, 10, 8}, dtype);
    for (const std::int64_t step : {0, 1, 2}) {
      const std::int64_t tokens = step == 0 ? 4 : 1;
      const at::Tensor positions = step == 0 ? at::arange(4) : at::full({1}, 3 + step, at::kLong);
      const at::Tensor key = at::randn({2, 3, tokens, 8}).to(dtype), value = at::randn({2, 3, tokens, 8}).to(dtype);
      auto [keys, values] = cache.update(key, value, 0, positions);
      reference.index_copy_(2, positions, key);
      EXPECT_TRUE(at::equal(keys, reference)) << dtype << " step " << step;
      EXPECT_TRUE(at::equal(values.narrow(2, positions[0].item<std::int64_t>(), tokens), value));
    }
    const at::Tensor one = at::zeros({2, 3, 1, 8}, dtype);
    EXPECT_THROW(cache.update(one, one, 0, at::full({1}, 10, at::kLong)), ValueError);
    EXPECT_THROW(cache.update(one, one, 0, at::full({1}, -1, at::kLong)), ValueError);
  }
}

}  // namespace
}  // namespace hfcpp
