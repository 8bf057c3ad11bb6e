#include "hfcpp/generation/cache.h"

#include <ATen/ATen.h>

#include <cstring>

#include "hfcpp/config/configuration_utils.h"
#include "hfcpp/error.h"

namespace hfcpp {

// --- DynamicCache ---

std::shared_ptr<DynamicCache> DynamicCache::from_legacy_cache(std::vector<std::pair<at::Tensor, at::Tensor>> layers) {
  auto cache = std::make_shared<DynamicCache>();
  cache->layers_ = std::move(layers);
  return cache;
}

std::pair<at::Tensor, at::Tensor> DynamicCache::update(const at::Tensor& key, const at::Tensor& value,
                                                       std::int64_t layer, const at::Tensor& /*cache_position*/) {
  if (layer < 0 || layer > static_cast<std::int64_t>(layers_.size()))
    throw ValueError("DynamicCache: layer " + std::to_string(layer) + " updated before layer " +
                     std::to_string(layers_.size()) + " (layers must be filled in order)");
  if (layer == static_cast<std::int64_t>(layers_.size())) {
    layers_.emplace_back(key, value);
  } else {
    auto& [k, v] = layers_[layer];
    k = at::cat({k, key}, -2);
    v = at::cat({v, value}, -2);
  }
  return layers_[layer];
}

std::int64_t DynamicCache::get_seq_length(std::int64_t layer) const {
  if (layer < 0 || layer >= static_cast<std::int64_t>(layers_.size())) return 0;
  return layers_[layer].first.size(-2);
}

void DynamicCache::reorder_cache(const at::Tensor& beam_idx) {
  for (auto& [k, v] : layers_) {
    k = k.index_select(0, beam_idx.to(k.device()));
    v = v.index_select(0, beam_idx.to(v.device()));
  }
}

void DynamicCache::crop(std::int64_t max_length) {
  const std::int64_t length = get_seq_length();
  if (max_length < 0) max_length = length + max_length;
  if (max_length >= length) return;
  for (auto& [k, v] : layers_) {
    k = k.narrow(-2, 0, std::max<std::int64_t>(max_length, 0));
    v = v.narrow(-2, 0, std::max<std::int64_t>(max_length, 0));
  }
}

// --- shapes ---

CacheShape cache_shape_of(const PretrainedConfig& config) {
  CacheShape shape;
  shape.num_layers = config.num_hidden_layers();
  const std::int64_t heads = config.num_attention_heads();
  shape.num_kv_heads = config.get_or<std::int64_t>("num_key_value_heads", heads);
  shape.head_dim = config.get_or<std::int64_t>("head_dim", config.hidden_size() / heads);
  return shape;
}

// --- StaticCache ---

namespace {

// cache[:, :, positions[t], :] = update[:, :, t, :]. On the CPU with contiguous tensors of one dtype
// (every decoding step) a row copy per head: index_copy_'s dispatch and checks cost ~6 us a call,
// twice per layer and token. Positions outside the cache are an error, as index_copy_'s are.
void write_positions(at::Tensor& cache, const at::Tensor& update, const at::Tensor& positions) {
  const bool rows = cache.device().is_cpu() && update.device().is_cpu() && positions.device().is_cpu() &&
                    cache.is_contiguous() && update.is_contiguous() && positions.is_contiguous() &&
                    positions.scalar_type() == at::kLong && update.scalar_type() == cache.scalar_type();
  if (!rows) {
    cache.index_copy_(2, positions, update.to(cache.scalar_type()));
    return;
  }
  const std::int64_t heads = cache.size(0) * cache.size(1), capacity = cache.size(2), tokens = update.size(2);
  const std::size_t row_bytes = static_cast<std::size_t>(cache.size(3) * cache.element_size());
  const std::int64_t* position = positions.data_ptr<std::int64_t>();
  for (std::int64_t t = 0; t < tokens; ++t)
    if (position[t] < 0 || position[t] >= capacity)
      throw ValueError("StaticCache: cache_position " + std::to_string(position[t]) + " is outside the cache's " +
                       std::to_string(capacity) + " positions");
  auto* to = static_cast<std::uint8_t*>(cache.data_ptr());
  const auto* from = static_cast<const std::uint8_t*>(update.data_ptr());
  for (std::int64_t h = 0; h < heads; ++h)
    for (std::int64_t t = 0; t < tokens; ++t)
      std::memcpy(to + (h * capacity + position[t]) * row_bytes, from + (h * tokens + t) * row_bytes, row_bytes);
}

}  // namespace

StaticCache::StaticCache(const CacheShape& shape, std::int64_t batch_size, std::int64_t max_length,
                         c10::ScalarType dtype, c10::Device device)
    : seen_(static_cast<std::size_t>(shape.num_layers), 0), batch_size_(batch_size), max_length_(max_length) {
  if (batch_size <= 0 || max_length <= 0 || shape.num_layers <= 0 || shape.num_kv_heads <= 0 || shape.head_dim <= 0)
    throw ValueError("StaticCache needs positive sizes, got batch " + std::to_string(batch_size) + ", max_length " +
                     std::to_string(max_length) + ", layers " + std::to_string(shape.num_layers) + ", kv heads " +
                     std::to_string(shape.num_kv_heads) + ", head_dim " + std::to_string(shape.head_dim));
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  for (std::int64_t i = 0; i < shape.num_layers; ++i)
    layers_.emplace_back(at::zeros({batch_size, shape.num_kv_heads, max_length, shape.head_dim}, options),
                         at::zeros({batch_size, shape.num_kv_heads, max_length, shape.head_dim}, options));
}

std::pair<at::Tensor, at::Tensor> StaticCache::update(const at::Tensor& key, const at::Tensor& value,
                                                      std::int64_t layer, const at::Tensor& cache_position) {
  if (layer < 0 || layer >= static_cast<std::int64_t>(layers_.size()))
    throw ValueError("StaticCache: layer " + std::to_string(layer) + " out of range, the cache has " +
                     std::to_string(layers_.size()) + " layers");
  auto& [k, v] = layers_[layer];
  if (key.size(0) != k.size(0) || key.size(1) != k.size(1) || key.size(3) != k.size(3))
    throw ValueError("StaticCache: keys of shape " + c10::str(key.sizes()) + " do not fit the cache " +
                     c10::str(k.sizes()));
  const std::int64_t new_tokens = key.size(2);
  if (!cache_position.defined() || cache_position.numel() != new_tokens)
    throw ValueError("StaticCache needs cache_position with one position per new token (" +
                     std::to_string(new_tokens) + ")");
  if (seen_[layer] + new_tokens > max_length_)
    throw ValueError("StaticCache is full: " + std::to_string(seen_[layer]) + " + " + std::to_string(new_tokens) +
                     " tokens exceed its max_length " + std::to_string(max_length_));
  write_positions(k, key, cache_position);
  write_positions(v, value, cache_position);
  seen_[layer] += new_tokens;
  return {k, v};
}

std::int64_t StaticCache::get_seq_length(std::int64_t layer) const {
  if (layer < 0 || layer >= static_cast<std::int64_t>(seen_.size())) return 0;
  return seen_[layer];
}

void StaticCache::reorder_cache(const at::Tensor& beam_idx) {
  for (auto& [k, v] : layers_) {
    k.copy_(k.index_select(0, beam_idx.to(k.device())));
    v.copy_(v.index_select(0, beam_idx.to(v.device())));
  }
}

std::vector<std::pair<at::Tensor, at::Tensor>> StaticCache::to_legacy_cache() const {
  std::vector<std::pair<at::Tensor, at::Tensor>> out;
  for (std::size_t i = 0; i < layers_.size(); ++i)
    out.emplace_back(layers_[i].first.narrow(2, 0, seen_[i]), layers_[i].second.narrow(2, 0, seen_[i]));
  return out;
}

void StaticCache::reset() {
  for (auto& [k, v] : layers_) {
    k.zero_();
    v.zero_();
  }
  std::fill(seen_.begin(), seen_.end(), 0);
}

}  // namespace hfcpp
