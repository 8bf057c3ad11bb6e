#include "decoder_cache.h"

#include <ATen/ATen.h>

#include "hfcpp/logging.h"

namespace hfcpp::detail {

DecoderCacheState prepare_decoder_cache(const ModelInputs& inputs, bool config_use_cache, bool checkpointing,
                                        std::int64_t seq, c10::Device device) {
  bool use_cache = inputs.use_cache.value_or(config_use_cache);
  if (checkpointing && use_cache) {
    logging::warning_once("`use_cache=True` is incompatible with gradient checkpointing. Setting `use_cache=False`.");
    use_cache = false;
  }
  DecoderCacheState state;
  state.cache = inputs.past_key_values;
  if (!state.cache && use_cache) state.cache = std::make_shared<DynamicCache>();
  state.past = state.cache ? state.cache->get_seq_length() : 0;
  state.cache_position = inputs.cache_position.defined()
                             ? inputs.cache_position.to(device)
                             : at::arange(state.past, state.past + seq, at::TensorOptions().dtype(at::kLong).device(device));
  return state;
}

}  // namespace hfcpp::detail
