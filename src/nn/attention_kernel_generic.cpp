// The fused attention kernel with the build's own flags (4 float lanes: SSE2 on x86-64, NEON on
// arm64), for CPUs without AVX2.
#include "attention_tiles.h"

namespace hfcpp::nn::detail {

void attention_tiles_generic(const AttentionProblem& problem, std::int64_t first, std::int64_t last) {
  run_attention_tiles<4>(problem, first, last);
}

}  // namespace hfcpp::nn::detail
