// The fused attention kernel compiled for AVX2 + FMA (8 float lanes), whatever the build's flags;
// attention.cpp calls it only on CPUs that have them.
#if defined(__x86_64__)

#define HFCPP_KERNEL_TARGET "avx2,fma,f16c"
#include "attention_tiles.h"

namespace hfcpp::nn::detail {

void attention_tiles_avx2(const AttentionProblem& problem, std::int64_t first, std::int64_t last) {
  run_attention_tiles<8>(problem, first, last);
}

}  // namespace hfcpp::nn::detail

#endif  // __x86_64__
