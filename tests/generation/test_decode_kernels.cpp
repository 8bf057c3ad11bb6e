// The decoding kernels against a float64 reference computed from the same values: every
// instruction-set path this CPU has (AVX-512 BF16 pair products, AVX-512 widening, the generic
// loops), weights that start off a 64-byte boundary (as in a mapped safetensors file), lengths
// with partial vectors, several rows, and two threads, which the suite otherwise never runs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <cstdlib>
#include <stdexcept>
#include <tuple>

#include "../../src/generation/decode_kernels.h"
#include "../../src/util/parallel.h"
#include "hfcpp/error.h"
#include "hfcpp/models/rope.h"
#include "hfcpp/runtime.h"

namespace hfcpp {
namespace {

namespace k = detail::decode;

// A [rows, cols] tensor of `dtype` whose data starts `shift` elements past a 64-byte boundary.
at::Tensor shifted(const at::Tensor& values, at::ScalarType dtype, std::int64_t shift) {
  at::Tensor buffer = at::empty({values.numel() + shift}, at::TensorOptions().dtype(dtype));
  at::Tensor view = buffer.narrow(0, shift, values.numel()).view(values.sizes());
  view.copy_(values);
  return view;
}

// Largest |a - b| relative to the largest |b|.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         b.to(at::kDouble).abs().max().item<double>();
}

struct LinearCase {
  at::ScalarType dtype;
  std::int64_t rows, out_features, in_features, weight_shift;
  int threads;
};

class DecodeLinear : public ::testing::TestWithParam<LinearCase> {};

TEST_P(DecodeLinear, EqualsTheFloat64ProductWithBiasAndResidual) {
  const LinearCase c = GetParam();
  set_threads(c.threads, 1);
  at::manual_seed(7);
  const at::Tensor w = shifted(at::randn({c.out_features, c.in_features}), c.dtype, c.weight_shift);
  const at::Tensor x = at::randn({c.rows, c.in_features}).to(c.dtype);
  const at::Tensor bias = at::randn({c.out_features}).to(c.dtype);
  const at::Tensor residual = at::randn({c.rows, c.out_features}).to(c.dtype);
  at::Tensor out = at::empty({c.rows, c.out_features}, x.options());
  k::linear(x, w, bias, residual, out);
  const at::Tensor expected = residual.to(at::kDouble) +
                              (at::matmul(x.to(at::kDouble), w.to(at::kDouble).t()) + bias.to(at::kDouble));
  // float32: summation order only; bfloat16: one rounding of the product and one of the sum.
  EXPECT_LT(relative_error(out, expected), c.dtype == at::kFloat ? 1e-5 : 2e-2);
  // A wrong element would show in the error above only if large: also check every element of
  // a float32 run agrees to the float32 product's precision.
  if (c.dtype == at::kFloat) EXPECT_TRUE(at::allclose(out, expected.to(at::kFloat), 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, DecodeLinear,
    ::testing::Values(LinearCase{at::kFloat, 1, 96, 768, 0, 1}, LinearCase{at::kFloat, 3, 37, 203, 5, 2},
                      LinearCase{at::kBFloat16, 1, 96, 768, 0, 1}, LinearCase{at::kBFloat16, 1, 96, 768, 3, 2},
                      LinearCase{at::kBFloat16, 4, 41, 211, 17, 2}, LinearCase{at::kBFloat16, 2, 5, 7, 1, 1}),
    [](const auto& info) {
      const LinearCase& c = info.param;
      return std::string(c.dtype == at::kFloat ? "float32" : "bfloat16") + "_rows" + std::to_string(c.rows) + "_" +
             std::to_string(c.out_features) + "x" + std::to_string(c.in_features) + "_shift" +
             std::to_string(c.weight_shift) + "_threads" + std::to_string(c.threads);
    });

TEST(DecodeLinear, BfloatWeightsWithFloatInputsWidenEachWeight) {
  at::manual_seed(3);
  const at::Tensor w = shifted(at::randn({33, 130}), at::kBFloat16, 9);
  const at::Tensor x = at::randn({2, 130});
  at::Tensor out = at::empty({2, 33});
  k::linear(x, w, {}, {}, out);
  const at::Tensor expected = at::matmul(x.to(at::kDouble), w.to(at::kDouble).t());
  EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, 1e-4, 1e-4));
}

TEST(DecodeLinear, SeveralMatricesInOnePassEqualOneCallEach) {
  set_threads(2, 1);
  at::manual_seed(11);
  const auto bf = at::TensorOptions().dtype(at::kBFloat16);
  const at::Tensor x = at::randn({2, 64}).to(at::kBFloat16);
  const at::Tensor q = shifted(at::randn({70, 64}), at::kBFloat16, 1), k = at::randn({6, 64}).to(at::kBFloat16);
  const at::Tensor v = at::randn({33, 64}).to(at::kBFloat16), q_bias = at::randn({70}).to(at::kBFloat16);
  const at::Tensor none;
  at::Tensor q_out = at::empty({2, 70}, bf), k_out = at::empty({2, 6}, bf), v_out = at::empty({2, 33}, bf);
  k::linear_many(x, {{q, q_bias, none, q_out}, {k, none, none, k_out}, {v, none, none, v_out}});
  for (const auto& [w, bias, out] : {std::tuple{q, q_bias, q_out}, std::tuple{k, none, k_out}, std::tuple{v, none, v_out}}) {
    at::Tensor alone = at::empty_like(out);
    k::linear(x, w, bias, none, alone);
    EXPECT_TRUE(at::equal(out, alone)) << w.sizes();
  }
}

TEST(DecodeLinear, RejectsAWeightOfTheWrongWidthNamingTheShapes) {
  const at::Tensor w = at::zeros({4, 8});
  at::Tensor out = at::empty({1, 4});
  try {
    k::linear(at::zeros({1, 9}), w, {}, {}, out);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 9]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4, 8]"), std::string::npos) << e.what();
  }
}

// RMSNorm and the rotary embedding against the eager ops they replace (LlamaRMSNorm and
// apply_rotary_pos_emb): the rotation rounds as eager's elementwise ops do, so it must be equal;
// the norm's mean of squares may sum in another order (a float32 ulp of its scale).
void expect_small_ops_equal_eager() {
  at::manual_seed(21);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const std::int64_t K : {768, 37}) {
      const at::Tensor x = (at::randn({3, K}) * 3).to(dtype), w = at::randn({K}).to(dtype);
      at::Tensor out = at::empty_like(x);
      k::rms_norm(x, w, 1e-6, out);
      const at::Tensor xf = x.to(at::kFloat);
      const at::Tensor eager = w * (xf * at::rsqrt(xf.pow(2).mean(-1, true) + 1e-6)).to(dtype);
      const double tolerance = dtype == at::kFloat ? 1e-5 : 0.0;
      const double mismatched = (out.to(at::kDouble) - eager.to(at::kDouble)).abs().gt(tolerance * 10).sum().item<double>();
      EXPECT_LE(mismatched, dtype == at::kFloat ? 0 : 2) << dtype << " K " << K;  // bf16: a rare tie
      EXPECT_TRUE(at::allclose(out.to(at::kDouble), eager.to(at::kDouble), 1e-2, 1e-2)) << dtype << " K " << K;
    }
    for (const std::int64_t D : {64, 20}) {
      const at::Tensor q = at::randn({2, 3, D}).to(dtype);
      const at::Tensor cos = at::randn({2, D}).to(dtype), sin = at::randn({2, D}).to(dtype);
      at::Tensor rotated = q.clone();
      k::rotary(rotated, cos, sin);
      const at::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
      const at::Tensor eager = q.mul(c).add(rotate_half(q).mul(s));
      EXPECT_TRUE(at::equal(rotated, eager)) << dtype << " D " << D;
    }
  }
}

TEST(DecodeSmallOps, RmsNormAndRotaryEqualTheEagerOps) { expect_small_ops_equal_eager(); }

// The narrower instruction sets, as ATEN_CPU_CAPABILITY selects them (read once per process, and
// ctest runs every test in a process of its own).
class DecodeLinearIsa : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeLinearIsa, NarrowerInstructionSetsGiveTheSameProducts) {
  setenv("ATEN_CPU_CAPABILITY", GetParam().c_str(), 1);
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  EXPECT_EQ(k::isa(), GetParam() == "default" || !avx2 ? "generic" : "avx2");
  at::manual_seed(5);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor w = shifted(at::randn({9, 72}), dtype, 3);
    const at::Tensor x = at::randn({2, 72}).to(dtype);
    at::Tensor out = at::empty({2, 9}, at::kFloat);
    k::linear(x, w, {}, {}, out);
    const at::Tensor expected = at::matmul(x.to(at::kDouble), w.to(at::kDouble).t());
    EXPECT_TRUE(at::allclose(out.to(at::kDouble), expected, 1e-4, 1e-4)) << dtype;
  }
  expect_small_ops_equal_eager();
}

INSTANTIATE_TEST_SUITE_P(Kernels, DecodeLinearIsa, ::testing::Values("default", "avx2"));

TEST(KernelThreads, AutoPolicyUsesEveryCoreAndTheUsersChoiceWins) {
  // ctest sets OMP_NUM_THREADS=1 for the suite; the policy then follows torch's pool.
  const ThreadConfig config = configure_threads();
  if (config.source == "auto") EXPECT_EQ(config.kernel_threads, available_cores());
  else EXPECT_EQ(config.kernel_threads, config.torch_threads);
  EXPECT_EQ(set_threads(2, 1).kernel_threads, 2);
  EXPECT_EQ(kernel_threads(), 2);
  EXPECT_NE(describe(current_thread_config()).find("hfcpp kernels 2"), std::string::npos);
}

TEST(KernelThreads, ParallelForCoversTheRangeOnceAndRethrows) {
  set_threads(2, 1);
  std::vector<std::atomic<int>> seen(1000);
  detail::parallel_for(0, 1000, 1, 2, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t i = first; i < last; ++i) seen[i]++;
  });
  for (const auto& count : seen) ASSERT_EQ(count.load(), 1);
  EXPECT_THROW(detail::parallel_for(0, 10, 1, 2,
                                    [](std::int64_t, std::int64_t last) {
                                      if (last == 10) throw std::runtime_error("last chunk");
                                    }),
               std::runtime_error);
}

TEST(KernelThreads, DynamicChunksCoverTheRangeOnceBothThreadsWorkAndFailuresStopTheLoop) {
  set_threads(2, 1);
  std::vector<std::atomic<int>> seen(1003);
  std::atomic<int> calls{0}, chunk_too_long{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
  detail::parallel_for_dynamic(0, 1003, 10, 2, [&](std::int64_t first, std::int64_t last) {
    ++calls;
    if (last - first > 10) ++chunk_too_long;
    for (std::int64_t i = first; i < last; ++i) seen[i]++;
    {
      std::lock_guard lock(mutex);
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));  // room for the other thread to take chunks
  });
  for (const auto& count : seen) ASSERT_EQ(count.load(), 1);
  EXPECT_EQ(calls.load(), 101);  // 100 chunks of 10 and one of 3
  EXPECT_EQ(chunk_too_long.load(), 0);
  EXPECT_EQ(threads.size(), 2u);
  std::atomic<int> after_failure{0};
  EXPECT_THROW(detail::parallel_for_dynamic(0, 1000, 1, 2,
                                            [&](std::int64_t first, std::int64_t) {
                                              if (first == 3) throw std::runtime_error("chunk 3");
                                              if (first > 500) ++after_failure;
                                              std::this_thread::sleep_for(std::chrono::microseconds(20));
                                            }),
               std::runtime_error);
  EXPECT_LT(after_failure.load(), 490);  // the loop stopped well before the end
}

}  // namespace
}  // namespace hfcpp
