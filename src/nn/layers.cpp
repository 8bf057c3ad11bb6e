#include "hfcpp/nn/layers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>

#include "hfcpp/error.h"

namespace hfcpp::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias) {
  new_parameter("weight", {out_features, in_features});
  if (bias) new_parameter("bias", {out_features});
  else no_parameter("bias");
}

at::Tensor Linear::forward(const at::Tensor& x) const {
  ForwardScope hooks(*this);
  const at::Tensor* b = bias();
  return hooks.output(at::linear(x, weight(), b ? *b : at::Tensor()));
}

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
                     std::optional<std::int64_t> padding_idx)
    : padding_idx(padding_idx) {
  new_parameter("weight", {num_embeddings, embedding_dim});
}

namespace {

// The rows of a few ids (a decoding step) copied without at::embedding's dispatch and index_select
// (~20 us for one id); undefined when another path must run: gradients to record, tensors that
// are not plain CPU ones, or an id outside the table (at::embedding then reports it).
at::Tensor copy_few_rows(const at::Tensor& table, const at::Tensor& ids) {
  constexpr std::int64_t kFewIds = 8;
  if ((at::GradMode::is_enabled() && table.requires_grad()) || ids.numel() > kFewIds || !table.device().is_cpu() ||
      !ids.device().is_cpu() || ids.scalar_type() != at::kLong || !ids.is_contiguous() || table.dim() != 2 ||
      !table.is_contiguous())
    return {};
  const std::int64_t rows = table.size(0);
  const std::int64_t* id = ids.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < ids.numel(); ++i)
    if (id[i] < 0 || id[i] >= rows) return {};
  auto shape = ids.sizes().vec();
  shape.push_back(table.size(1));
  at::Tensor out = at::empty(shape, table.options());
  const std::size_t row_bytes = static_cast<std::size_t>(table.size(1) * table.element_size());
  const auto* from = static_cast<const std::uint8_t*>(table.data_ptr());
  auto* to = static_cast<std::uint8_t*>(out.data_ptr());
  for (std::int64_t i = 0; i < ids.numel(); ++i) std::memcpy(to + i * row_bytes, from + id[i] * row_bytes, row_bytes);
  return out;
}

}  // namespace

at::Tensor Embedding::forward(const at::Tensor& ids) const {
  ForwardScope hooks(*this);
  at::Tensor rows = copy_few_rows(weight(), ids);
  return hooks.output(rows.defined() ? rows : at::embedding(weight(), ids, padding_idx.value_or(-1)));
}

LayerNorm::LayerNorm(std::int64_t dim, double eps, bool bias) : eps(eps) {
  new_parameter("weight", {dim}, InitialValue::kOnes);
  if (bias) new_parameter("bias", {dim}, InitialValue::kZeros);
  else no_parameter("bias");
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const {
  const at::Tensor* b = find_param("bias");
  const at::Tensor& w = param("weight");
  ForwardScope hooks(*this);
  return hooks.output(at::layer_norm(x, {w.size(0)}, w, b ? *b : at::Tensor(), eps));
}

Conv1D::Conv1D(std::int64_t out_features, std::int64_t in_features) {
  new_parameter("weight", {in_features, out_features});
  new_parameter("bias", {out_features}, InitialValue::kZeros);
}

at::Tensor Conv1D::forward(const at::Tensor& x) const {
  ForwardScope hooks(*this);
  const at::Tensor& w = weight();
  auto out_shape = x.sizes().vec();
  out_shape.back() = w.size(1);
  // Rows counted explicitly: with every attention head pruned the features are 0 wide and -1 is ambiguous.
  std::int64_t rows = 1;
  for (std::int64_t i = 0; i + 1 < x.dim(); ++i) rows *= x.size(i);
  at::Tensor flat = x.reshape({rows, x.size(-1)});
  const at::Tensor* b = bias();
  at::Tensor y = b ? at::addmm(*b, flat, w) : at::mm(flat, w);
  return hooks.output(y.view(out_shape));
}

RMSNorm::RMSNorm(std::int64_t dim, double eps) : eps(eps) {
  new_parameter("weight", {dim}, InitialValue::kOnes);
}

at::Tensor RMSNorm::forward(const at::Tensor& x) const {
  ForwardScope hooks(*this);
  const auto input_dtype = x.scalar_type();
  at::Tensor h = x.to(at::kFloat);
  const at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps);
  return hooks.output(weight() * h.to(input_dtype));
}

at::Tensor Dropout::forward(const at::Tensor& x) const {
  ForwardScope hooks(*this);
  if (!is_training() || p == 0.0) return hooks.output(x);
  return hooks.output(at::dropout(x, p, /*train=*/true));
}

namespace {

at::Tensor gelu(const at::Tensor& x) { return at::gelu(x); }
at::Tensor gelu_tanh(const at::Tensor& x) {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written out as Transformers' NewGELU does.
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
}
at::Tensor gelu_pytorch_tanh(const at::Tensor& x) { return at::gelu(x, "tanh"); }
at::Tensor gelu_fast(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)));
}
at::Tensor quick_gelu(const at::Tensor& x) { return x * at::sigmoid(1.702 * x); }
at::Tensor relu(const at::Tensor& x) { return at::relu(x); }
at::Tensor silu(const at::Tensor& x) { return at::silu(x); }
at::Tensor tanh(const at::Tensor& x) { return at::tanh(x); }
at::Tensor sigmoid(const at::Tensor& x) { return at::sigmoid(x); }
at::Tensor identity(const at::Tensor& x) { return x; }

}  // namespace

Activation activation(const std::string& name) {
  if (name == "gelu") return gelu;
  if (name == "gelu_new") return gelu_tanh;
  if (name == "gelu_pytorch_tanh") return gelu_pytorch_tanh;
  if (name == "gelu_fast") return gelu_fast;
  if (name == "quick_gelu") return quick_gelu;
  if (name == "relu") return relu;
  if (name == "silu" || name == "swish") return silu;
  if (name == "tanh") return tanh;
  if (name == "sigmoid") return sigmoid;
  if (name == "linear") return identity;
  throw ValueError("unknown activation function '" + name +
                   "': expected gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu, silu, "
                   "swish, tanh, sigmoid or linear");
}

}  // namespace hfcpp::nn
