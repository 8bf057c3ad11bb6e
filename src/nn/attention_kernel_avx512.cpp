// The fused attention kernel compiled for AVX-512 (16 float lanes), whatever the build's flags;
// attention.cpp calls it only on CPUs that have AVX-512.
#if defined(__x86_64__)

#define HFCPP_KERNEL_TARGET "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"
#include "attention_tiles.h"

namespace hfcpp::nn::detail {

void attention_tiles_avx512(const AttentionProblem& problem, std::int64_t first, std::int64_t last) {
  run_attention_tiles<16>(problem, first, last);
}

}  // namespace hfcpp::nn::detail

#endif  // __x86_64__
