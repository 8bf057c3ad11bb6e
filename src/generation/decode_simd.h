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

// Around code with AVX-512 intrinsics: GCC 12's headers trip -Wuninitialized on their own
// placeholder values (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#define HFCPP_AVX512_CODE_BEGIN                                  \
  _Pragma("GCC diagnostic push")                                 \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")          \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define HFCPP_AVX512_CODE_END _Pragma("GCC diagnostic pop")
#else
#define HFCPP_AVX512_CODE_BEGIN
#define HFCPP_AVX512_CODE_END
#endif

enum class Isa { kGeneric, kAvx2, kAvx512 };
// What this CPU runs, lowered by ATEN_CPU_CAPABILITY=avx2|default as for torch's own kernels.
Isa current_isa();
// AVX512-BF16's pair-wise dot products (vdpbf16ps), on top of kAvx512.
bool bf16_pairs_available();

// The lanes of elements [k, min(k + 16, K)) of a row of K.
inline __mmask16 lanes_from(std::int64_t k, std::int64_t K) {
  return K - k >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (K - k)) - 1);
}

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

HFCPP_AVX512_CODE_BEGIN

// 16 values as T would hold them: bfloat16 rounds to nearest even (NaN stays NaN), float32 is exact.
template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 rounded16(__m512 x) {
  if constexpr (std::is_same_v<T, bf16>) {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i up = _mm512_add_epi32(bits, _mm512_add_epi32(lowest_kept, _mm512_set1_epi32(0x7FFF)));
    const __m512 result = _mm512_castsi512_ps(_mm512_and_si512(up, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
    return _mm512_mask_mov_ps(result, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
  } else {
    return x;
  }
}

// Stores the lanes of `mask` as T, bfloat16 rounded to nearest even as store<T> rounds.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void store16(float* p, __m512 v, __mmask16 mask) {
  _mm512_mask_storeu_ps(p, mask, v);
}
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void store16(bf16* p, __m512 v, __mmask16 mask) {
  __m512i halves = _mm512_srli_epi32(_mm512_castps_si512(rounded16<bf16>(v)), 16);
  // A NaN whose payload is all in the dropped half would become infinity: bfloat16's quiet NaN.
  halves = _mm512_mask_mov_epi32(halves, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_set1_epi32(0x7FC0));
  _mm256_mask_storeu_epi16(p, mask, _mm512_cvtepi32_epi16(halves));
}

HFCPP_AVX512_CODE_END

}  // namespace hfcpp::detail::decode
