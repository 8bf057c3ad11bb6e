// Thin layers with Transformers' parameter names and layouts. Parameters come from
// Module::new_parameter (placement + no random init); the model's init_weights fills them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "hfcpp/nn/module.h"

namespace hfcpp::nn {

// y = x W^T + b, weight [out_features, in_features] (torch.nn.Linear).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return param("weight"); }
  const at::Tensor* bias() const { return find_param("bias"); }
  std::int64_t in_features() const { return weight().size(1); }
  std::int64_t out_features() const { return weight().size(0); }
};

// Rows of weight [num_embeddings, embedding_dim] (torch.nn.Embedding).
class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim,
            std::optional<std::int64_t> padding_idx = std::nullopt);
  at::Tensor forward(const at::Tensor& ids) const;
  const at::Tensor& weight() const { return param("weight"); }
  std::optional<std::int64_t> padding_idx;
  std::int64_t num_embeddings() const { return weight().size(0); }
  std::int64_t embedding_dim() const { return weight().size(1); }
};

// torch.nn.LayerNorm over the last dimension.
class LayerNorm : public Module {
 public:
  LayerNorm(std::int64_t dim, double eps = 1e-5, bool bias = true);
  at::Tensor forward(const at::Tensor& x) const;
  double eps;
};

// GPT-2's Conv1D: y = x W + b with weight [in_features, out_features] (transposed Linear).
class Conv1D : public Module {
 public:
  Conv1D(std::int64_t out_features, std::int64_t in_features);
  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return param("weight"); }
  const at::Tensor* bias() const { return find_param("bias"); }
};

// Root-mean-square norm with a learned scale, computed in float32 (LlamaRMSNorm).
class RMSNorm : public Module {
 public:
  explicit RMSNorm(std::int64_t dim, double eps = 1e-6);
  at::Tensor forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return param("weight"); }
  double eps;
};

// Dropout that is active only in training mode.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.1) : p(p) {}
  at::Tensor forward(const at::Tensor& x) const;
  double p;
};

// Transformers' ACT2FN by name: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, quick_gelu, relu,
// silu / swish, tanh, sigmoid, linear. Throws ValueError naming unknown activations.
using Activation = at::Tensor (*)(const at::Tensor&);
Activation activation(const std::string& name);

}  // namespace hfcpp::nn

namespace hfcpp::nn {

// An indexed list of child modules named "0", "1", ... (torch.nn.ModuleList), typed.
template <typename T>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<T> module) {
    register_module(std::to_string(items_.size()), module);
    items_.push_back(std::move(module));
  }
  T& operator[](std::size_t i) const { return *items_.at(i); }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<T>> items_;
};

}  // namespace hfcpp::nn
