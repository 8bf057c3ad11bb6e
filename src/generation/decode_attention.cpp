// The attention of a decoding step: one query per (row, head) over the cached keys and values.
// With AVX-512 and one of the usual head sizes (32, 64, 80, 96, 128, 256), a head's query and its
// output stay in registers while the keys and values stream past, and the scores are finished 16
// at a time; other shapes and CPUs take the scalar path. Both round where the eager path rounds.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "../util/parallel.h"
#include "decode_kernels.h"
#include "decode_simd.h"
#include "hfcpp/runtime.h"

namespace hfcpp::detail::decode {
namespace {

// One head's inputs: `length` keys and values of D elements each, and its mask row (additive, or
// int64 with zeros for blocked keys) or null.
template <typename T, typename Mask>
struct Head {
  const T* query;
  const T* keys;
  const T* values;
  const Mask* mask;
  std::int64_t length, D;
  float divisor;
  T* out;
};

// The score of one key as the eager path holds it: q.k rounded, divided, rounded, plus the mask.
// An int64 mask keeps a key where it is non-zero (the 2-D padding mask as generate() passes it);
// blocked keys score -inf, which the softmax turns into the same 0 as eager's finfo.min.
template <typename T, typename Mask>
inline float finish_score(const Head<T, Mask>& h, float dot, std::int64_t j) {
  float s = rounded<T>(rounded<T>(dot) / h.divisor);
  if constexpr (std::is_same_v<Mask, std::int64_t>) {
    if (h.mask != nullptr && h.mask[j] == 0) s = -std::numeric_limits<float>::infinity();
  } else {
    if (h.mask != nullptr) s = rounded<T>(s + to_float(h.mask[j]));
  }
  return s;
}

template <typename T, typename Mask>
void attend_scalar(const Head<T, Mask>& h, float* scores, float* acc) {
  float max_score = -std::numeric_limits<float>::infinity();
  for (std::int64_t j = 0; j < h.length; ++j) {
    const T* key = h.keys + j * h.D;
    float dot = 0;
    for (std::int64_t d = 0; d < h.D; ++d) dot += to_float(h.query[d]) * to_float(key[d]);
    scores[j] = finish_score(h, dot, j);
    max_score = std::max(max_score, scores[j]);
  }
  float total = 0;
  for (std::int64_t j = 0; j < h.length; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    total += scores[j];
  }
  std::fill(acc, acc + h.D, 0.0f);
  for (std::int64_t j = 0; j < h.length; ++j) {
    const float p = rounded<T>(scores[j] / total);
    const T* value = h.values + j * h.D;
    for (std::int64_t d = 0; d < h.D; ++d) acc[d] += p * to_float(value[d]);
  }
  for (std::int64_t d = 0; d < h.D; ++d) h.out[d] = store<T>(acc[d]);
}

HFCPP_AVX512_CODE_BEGIN

// exp(x) for 16 floats, within 2 ulp of the exact value: x = n ln2 + r with |r| <= ln2/2, exp(r)
// by its Taylor series to r^7 (the truncation is below 6e-9), times 2^n. Below -87.3 the result is
// 0, as expf underflows there (to subnormals first, which a softmax cannot tell from 0).
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 exp16(__m512 x) {
  const __mmask16 representable = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_GE_OQ);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.72283f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);  // ln2 in two parts, so n ln2 is exact
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(representable, p, n);
}

// kVectors = D / 16 registers hold the query and, later, the output. The scores are finished 16
// at a time (rounding, scale, mask, exponential, normalisation) between the two passes over the
// keys and the values.
template <typename T, typename Mask, int kVectors>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void attend_avx512(const Head<T, Mask>& h, float* scores) {
  constexpr std::int64_t D = 16 * kVectors;
  __m512 q[kVectors];
  for (int v = 0; v < kVectors; ++v) q[v] = load16(h.query + 16 * v, 0xFFFF);
  // The cache is cold (a step streams all the weights between two reads of it) and the loads of a
  // key row waited on memory for most of the time: the key pass asks for the key and value rows
  // kAhead positions on (the values are read once the key pass is done).
  constexpr std::int64_t kAhead = 8, kLines = (D * sizeof(T) + 63) / 64;
  const auto fetch_row = [&](std::int64_t j) {
    for (std::int64_t l = 0; l < kLines; ++l) {
      __builtin_prefetch(reinterpret_cast<const char*>(h.keys + j * D) + 64 * l, 0, 3);
      __builtin_prefetch(reinterpret_cast<const char*>(h.values + j * D) + 64 * l, 0, 3);
    }
  };
  for (std::int64_t j = 0; j < std::min(kAhead, h.length); ++j) fetch_row(j);
  for (std::int64_t j = 0; j < h.length; ++j) {
    const T* key = h.keys + j * D;
    if (j + kAhead < h.length) fetch_row(j + kAhead);
    __m512 dot = _mm512_mul_ps(q[0], load16(key, 0xFFFF));
    for (int v = 1; v < kVectors; ++v) dot = _mm512_fmadd_ps(q[v], load16(key + 16 * v, 0xFFFF), dot);
    scores[j] = _mm512_reduce_add_ps(dot);
  }
  const __m512 divisor = _mm512_set1_ps(h.divisor);
  __m512 max16 = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::int64_t j = 0; j < h.length; j += 16) {  // as finish_score, 16 keys at a time
    const __mmask16 part = lanes_from(j, h.length);
    __m512 s = rounded16<T>(_mm512_div_ps(rounded16<T>(_mm512_maskz_loadu_ps(part, scores + j)), divisor));
    if constexpr (std::is_same_v<Mask, std::int64_t>) {
      if (h.mask != nullptr) {
        const __m512i zero = _mm512_setzero_si512();
        const auto low = static_cast<__mmask8>(part & 0xFF), high = static_cast<__mmask8>(part >> 8);
        const __mmask8 keep_low = _mm512_mask_cmpneq_epi64_mask(low, _mm512_maskz_loadu_epi64(low, h.mask + j), zero);
        const __mmask8 keep_high = _mm512_mask_cmpneq_epi64_mask(high, _mm512_maskz_loadu_epi64(high, h.mask + j + 8), zero);
        const auto keep = static_cast<__mmask16>(keep_low | (keep_high << 8));
        s = _mm512_mask_blend_ps(keep, _mm512_set1_ps(-std::numeric_limits<float>::infinity()), s);
      }
    } else {
      if (h.mask != nullptr) s = rounded16<T>(_mm512_add_ps(s, load16(h.mask + j, part)));
    }
    _mm512_mask_storeu_ps(scores + j, part, s);
    max16 = _mm512_mask_max_ps(max16, part, max16, s);
  }
  const __m512 max_score = _mm512_set1_ps(_mm512_reduce_max_ps(max16));
  __m512 total16 = _mm512_setzero_ps();
  for (std::int64_t j = 0; j < h.length; j += 16) {
    const __mmask16 part = lanes_from(j, h.length);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(part, scores + j), max_score));
    _mm512_mask_storeu_ps(scores + j, part, e);
    total16 = _mm512_mask_add_ps(total16, part, total16, e);
  }
  const __m512 total = _mm512_set1_ps(_mm512_reduce_add_ps(total16));
  for (std::int64_t j = 0; j < h.length; j += 16) {  // the probabilities, rounded as eager's softmax output
    const __mmask16 part = lanes_from(j, h.length);
    _mm512_mask_storeu_ps(scores + j, part, rounded16<T>(_mm512_div_ps(_mm512_maskz_loadu_ps(part, scores + j), total)));
  }
  __m512 acc[kVectors];
  for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_setzero_ps();
  for (std::int64_t j = 0; j < h.length; ++j) {
    const __m512 p = _mm512_set1_ps(scores[j]);
    const T* value = h.values + j * D;
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_fmadd_ps(p, load16(value + 16 * v, 0xFFFF), acc[v]);
  }
  alignas(64) float out[D];
  for (int v = 0; v < kVectors; ++v) _mm512_store_ps(out + 16 * v, acc[v]);
  for (std::int64_t d = 0; d < D; ++d) h.out[d] = store<T>(out[d]);
}

HFCPP_AVX512_CODE_END

template <typename T, typename Mask>
using Attend = void (*)(const Head<T, Mask>&, float*);

template <typename T, typename Mask>
Attend<T, Mask> avx512_kernel(std::int64_t D) {
  if (current_isa() != Isa::kAvx512) return nullptr;
  switch (D) {  // the head sizes of Llama-family checkpoints
    case 32: return attend_avx512<T, Mask, 2>;
    case 64: return attend_avx512<T, Mask, 4>;
    case 80: return attend_avx512<T, Mask, 5>;
    case 96: return attend_avx512<T, Mask, 6>;
    case 128: return attend_avx512<T, Mask, 8>;
    case 256: return attend_avx512<T, Mask, 16>;
    default: return nullptr;
  }
}

template <typename T, typename Mask>
void attention_typed(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache, std::int64_t length,
                     const at::Tensor& mask, double divisor, at::Tensor& out) {
  const std::int64_t M = q.size(0), H = q.size(1), D = q.size(2);
  const std::int64_t KV = k_cache.size(1), capacity = k_cache.size(2);
  const std::int64_t group = H / KV;
  const T* qp = q.data_ptr<T>();
  const T* kp = k_cache.data_ptr<T>();
  const T* vp = v_cache.data_ptr<T>();
  const Mask* mp = mask.defined() ? mask.data_ptr<Mask>() : nullptr;
  const std::int64_t mask_stride = mask.defined() ? mask.size(-1) : 0;
  T* op = out.data_ptr<T>();
  const Attend<T, Mask> fast = avx512_kernel<T, Mask>(D);
  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, length * D));
  detail::parallel_for_dynamic(0, M * H, grain, kernel_threads(), [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> scores(static_cast<std::size_t>(length)), acc(fast != nullptr ? 0 : static_cast<std::size_t>(D));
    for (std::int64_t mh = begin; mh < end; ++mh) {
      const std::int64_t m = mh / H, h = mh % H, kv = h / group;
      const Head<T, Mask> head{qp + mh * D,
                               kp + (m * KV + kv) * capacity * D,
                               vp + (m * KV + kv) * capacity * D,
                               mp != nullptr ? mp + m * mask_stride : nullptr,
                               length,
                               D,
                               static_cast<float>(divisor),
                               op + mh * D};
      if (fast != nullptr) fast(head, scores.data());
      else attend_scalar(head, scores.data(), acc.data());
    }
  });
}

}  // namespace

void attention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache, std::int64_t length,
               const at::Tensor& mask, double divisor, at::Tensor& out) {
  check(supported(q) && q.dim() == 3 && q.is_contiguous() && k_cache.is_contiguous() && v_cache.is_contiguous() &&
            out.is_contiguous() && k_cache.dim() == 4 && k_cache.sizes() == v_cache.sizes() &&
            k_cache.scalar_type() == q.scalar_type() && v_cache.scalar_type() == q.scalar_type() &&
            k_cache.size(0) == q.size(0) && k_cache.size(3) == q.size(2) && q.size(1) % k_cache.size(1) == 0 &&
            length <= k_cache.size(2),
        [&] { return "attention: q " + c10::str(q.sizes()) + " over caches " + c10::str(k_cache.sizes()) + ", length " +
            std::to_string(length); });
  check(!mask.defined() || (mask.is_contiguous() && mask.numel() == q.size(0) * mask.size(-1) && mask.size(-1) >= length),
        [&] { return "attention: mask " + (mask.defined() ? c10::str(mask.sizes()) : std::string()) + " must be [rows, >= length]"; });
  const bool bf16_values = q.scalar_type() == at::kBFloat16;
  if (mask.defined() && mask.scalar_type() == at::kLong) {
    if (bf16_values) attention_typed<bf16, std::int64_t>(q, k_cache, v_cache, length, mask, divisor, out);
    else attention_typed<float, std::int64_t>(q, k_cache, v_cache, length, mask, divisor, out);
    return;
  }
  const bool bf16_mask = mask.defined() && mask.scalar_type() == at::kBFloat16;
  if (bf16_values && bf16_mask) attention_typed<bf16, bf16>(q, k_cache, v_cache, length, mask, divisor, out);
  else if (bf16_values) attention_typed<bf16, float>(q, k_cache, v_cache, length, mask, divisor, out);
  else if (bf16_mask) attention_typed<float, bf16>(q, k_cache, v_cache, length, mask, divisor, out);
  else attention_typed<float, float>(q, k_cache, v_cache, length, mask, divisor, out);
}

}  // namespace hfcpp::detail::decode
