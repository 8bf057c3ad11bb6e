// Internal: the cache bookkeeping every decoder model's forward starts with.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "hfcpp/generation/cache.h"
#include "hfcpp/modeling/modeling_outputs.h"

namespace hfcpp::detail {

struct DecoderCacheState {
  std::shared_ptr<Cache> cache;  // the given cache, a new DynamicCache when caching, else null
  std::int64_t past = 0;         // tokens already in the cache
  at::Tensor cache_position;     // [seq] positions of the new tokens
};

// use_cache from the inputs or the config, off under gradient checkpointing (with Transformers'
// warning, since the recomputed forward would write the cache twice).
DecoderCacheState prepare_decoder_cache(const ModelInputs& inputs, bool config_use_cache, bool checkpointing,
                                        std::int64_t seq, c10::Device device);

}  // namespace hfcpp::detail
