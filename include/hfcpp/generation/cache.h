// Key/value caches for incremental decoding (Transformers' cache_utils): the interface models
// call from their attention layers, and the two kinds generate() uses.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace hfcpp {

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

}  // namespace hfcpp
