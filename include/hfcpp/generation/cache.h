// Key/value caches for incremental decoding (Transformers' cache_utils): the interface models
// call from their attention layers, and the two kinds generate() uses.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace hfcpp {

class PretrainedConfig;

class Cache {
 public:
  virtual ~Cache() = default;
  // Stores the new keys/values of `layer` ([batch, kv_heads, new_tokens, head_dim]) at the
  // positions `cache_position` ([new_tokens] int64) and returns the keys/values to attend over
  // ([batch, kv_heads, length, head_dim]).
  virtual std::pair<at::Tensor, at::Tensor> update(const at::Tensor& key, const at::Tensor& value, std::int64_t layer,
                                                   const at::Tensor& cache_position) = 0;
  // Tokens seen so far by `layer`.
  virtual std::int64_t get_seq_length(std::int64_t layer = 0) const = 0;
  // The capacity of a preallocated cache; nullopt when it grows without bound.
  virtual std::optional<std::int64_t> get_max_length() const = 0;
  // Keeps only the batch rows `beam_idx` (beam search), in that order.
  virtual void reorder_cache(const at::Tensor& beam_idx) = 0;
  // Per layer (keys, values) of the cached tokens only.
  virtual std::vector<std::pair<at::Tensor, at::Tensor>> to_legacy_cache() const = 0;
};

// Grows by concatenation: each update returns the cached keys/values followed by the new ones
// (Transformers' DynamicCache). Positions are assumed to follow the cached ones.
class DynamicCache : public Cache {
 public:
  DynamicCache() = default;
  // A cache holding these per-layer (keys, values), as DynamicCache.from_legacy_cache.
  static std::shared_ptr<DynamicCache> from_legacy_cache(std::vector<std::pair<at::Tensor, at::Tensor>> layers);
  std::pair<at::Tensor, at::Tensor> update(const at::Tensor& key, const at::Tensor& value, std::int64_t layer,
                                           const at::Tensor& cache_position) override;
  std::int64_t get_seq_length(std::int64_t layer = 0) const override;
  std::optional<std::int64_t> get_max_length() const override { return std::nullopt; }
  void reorder_cache(const at::Tensor& beam_idx) override;
  std::vector<std::pair<at::Tensor, at::Tensor>> to_legacy_cache() const override { return layers_; }
  // Drops every token from position `max_length` on (negative: that many from the end).
  void crop(std::int64_t max_length);

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> layers_;
};

// The dimensions a model's KV cache has, read from its config (num_hidden_layers,
// num_key_value_heads or num_attention_heads, head_dim or hidden_size / num_attention_heads).
struct CacheShape {
  std::int64_t num_layers = 0;
  std::int64_t num_kv_heads = 0;
  std::int64_t head_dim = 0;
};
CacheShape cache_shape_of(const PretrainedConfig& config);

// Preallocated to max_length tokens: update writes the new keys/values in place at
// cache_position (row copies on the CPU) and returns the whole buffers, so decoding allocates nothing per
// step; positions not written yet are zeros, which the causal mask hides (Transformers'
// StaticCache). The attention mask then covers max_length keys.
class StaticCache : public Cache {
 public:
  StaticCache(const CacheShape& shape, std::int64_t batch_size, std::int64_t max_length,
              c10::ScalarType dtype = c10::ScalarType::Float, c10::Device device = c10::Device(c10::DeviceType::CPU));
  std::pair<at::Tensor, at::Tensor> update(const at::Tensor& key, const at::Tensor& value, std::int64_t layer,
                                           const at::Tensor& cache_position) override;
  std::int64_t get_seq_length(std::int64_t layer = 0) const override;
  std::optional<std::int64_t> get_max_length() const override { return max_length_; }
  void reorder_cache(const at::Tensor& beam_idx) override;
  std::vector<std::pair<at::Tensor, at::Tensor>> to_legacy_cache() const override;
  // Forgets every token (zeros the buffers) so the cache can serve another sequence.
  void reset();
  std::int64_t batch_size() const { return batch_size_; }

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> layers_;
  std::vector<std::int64_t> seen_;
  std::int64_t batch_size_;
  std::int64_t max_length_;
};

}  // namespace hfcpp
