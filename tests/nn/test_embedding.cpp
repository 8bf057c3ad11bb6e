// nn::Embedding: a few ids (a decoding step) are copied row by row instead of going through
// at::embedding; both paths must give the same rows, errors and gradients.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include "hfcpp/nn/layers.h"

namespace hfcpp {
namespace {

TEST(Embedding, FewIdsGiveTheSameRowsAsAtEmbedding) {
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    nn::Embedding table(50, 6);
    table.set_param("weight", at::randn({50, 6}).to(dtype));
    for (const at::Tensor& ids : {at::tensor({7}, at::kLong).view({1, 1}), at::tensor({0, 49, 3, 3}, at::kLong).view({2, 2}),
                                  at::arange(20, at::kLong).view({1, 20})}) {  // the last takes at::embedding
      at::NoGradGuard no_grad;
      const at::Tensor rows = table.forward(ids);
      ASSERT_EQ(rows.sizes(), (std::vector<std::int64_t>{ids.size(0), ids.size(1), 6}));
      EXPECT_TRUE(rows.equal(at::embedding(table.weight(), ids)));
    }
  }
}

TEST(Embedding, AnIdOutsideTheTableIsAnErrorOnBothPaths) {
  nn::Embedding table(10, 4);
  at::NoGradGuard no_grad;
  EXPECT_THROW(table.forward(at::tensor({10}, at::kLong).view({1, 1})), c10::Error);
  EXPECT_THROW(table.forward(at::tensor({-11}, at::kLong).view({1, 1})), c10::Error);
  EXPECT_THROW(table.forward(at::arange(1, 12, at::kLong).view({1, 11})), c10::Error);
}

TEST(Embedding, FewIdsStillRecordGradients) {
  nn::Embedding table(10, 4);
  table.set_param("weight", at::randn({10, 4}).requires_grad_(true));
  const at::Tensor rows = table.forward(at::tensor({2, 2}, at::kLong).view({1, 2}));
  rows.sum().backward();
  const at::Tensor grad = table.weight().grad();
  ASSERT_TRUE(grad.defined());
  EXPECT_EQ(grad[2].sum().item<float>(), 8.0f);  // two uses of row 2, four features
  EXPECT_EQ(grad.sum().item<float>(), 8.0f);
}

}  // namespace
}  // namespace hfcpp
