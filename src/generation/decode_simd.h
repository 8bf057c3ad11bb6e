// Internal: what the decoding kernels share (decode_kernels.cpp: projections and per-token ops,
// decode_attention.cpp: attention over the cache): values rounded as the eager path rounds them,
// argument checks, the instruction set in use, and AVX-512 loads of float32 or bfloat16.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/BFloat16.h>
#include <immintrin.h>

#include <string>
#include <type_traits>

#include "hfcpp/error.h"

namespace hfcpp::detail::decode {

using bf16 = c10::BFloat16;

inline float to_float(float v) { return v; }
inline float to_float(bf16 v) { return static_cast<float>(v); }
// The value as the eager path would hold it in T (round to nearest even for bfloat16).
template <typename T>
inline float rounded(float v) {
  if constexpr (std::is_same_v<T, bf16>) return static_cast<float>(bf16(v));
  return v;
}
template <typename T>
inline T store(float v) {
  if constexpr (std::is_same_v<T, bf16>) return bf16(v);
  else return v;
}

// The message is built only on failure: these checks run ~100 times per token.
template <typename Message>
void check(bool ok, Message&& what) {
  if (!ok) throw ValueError("decode kernel: " + std::string(what()));
}

inline bool supported(const at::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

enum class Isa { kGeneric, kAvx2, kAvx512 };
// What this CPU runs, lowered by ATEN_CPU_CAPABILITY=avx2|default as for torch's own kernels.
Isa current_isa();
// AVX512-BF16's pair-wise dot products (vdpbf16ps), on top of kAvx512.
bool bf16_pairs_available();

// 16 float32 values from 16 bfloat16 ones (exact: a bfloat16 is a float32's upper half).
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 widen16(__m256i halves) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}
// 16 values as float32, the lanes outside `mask` zero.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 load16(const float* p, __mmask16 mask) {
  return _mm512_maskz_loadu_ps(mask, p);
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 load16(const bf16* p, __mmask16 mask) {
  return widen16(_mm256_maskz_loadu_epi16(mask, p));
}

}  // namespace hfcpp::detail::decode
