#include "decode_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "../util/parallel.h"
#include "decode_simd.h"

namespace hfcpp::detail::decode {

namespace {

Isa detect_isa() {
  const char* cap = std::getenv("ATEN_CPU_CAPABILITY");
  const std::string limit = cap != nullptr ? cap : "";
  __builtin_cpu_init();
  if (limit != "avx2" && limit != "default" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return Isa::kAvx512;
  if (limit != "default" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kGeneric;
}

}  // namespace

Isa current_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

bool bf16_pairs_available() {
  static const bool available = current_isa() == Isa::kAvx512 && __builtin_cpu_supports("avx512bf16");
  return available;
}

namespace {

// --- matrix rows times vectors: the bandwidth-bound part ---

// acc[m * rows + r] = dot(x[m], w[n0 + r]) for r < rows (<= 4), m < M. x is [M, K].
template <typename W, typename X>
void dot_rows_generic(const W* w, std::int64_t K, const X* x, std::int64_t M, std::int64_t rows, float* acc) {
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t r = 0; r < rows; ++r) {
      const W* row = w + r * K;
      const X* xv = x + m * K;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      std::int64_t k = 0;
      for (; k + 4 <= K; k += 4) {
        s0 += to_float(row[k]) * to_float(xv[k]);
        s1 += to_float(row[k + 1]) * to_float(xv[k + 1]);
        s2 += to_float(row[k + 2]) * to_float(xv[k + 2]);
        s3 += to_float(row[k + 3]) * to_float(xv[k + 3]);
      }
      for (; k < K; ++k) s0 += to_float(row[k]) * to_float(xv[k]);
      acc[m * rows + r] = (s0 + s1) + (s2 + s3);
    }
}

__attribute__((target("avx2,fma"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) inline __m256 load8(const bf16* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}
__attribute__((target("avx2,fma"))) inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename W>
__attribute__((target("avx2,fma"))) void dot_rows_avx2(const W* w, std::int64_t K, const float* x, std::int64_t M,
                                                       std::int64_t rows, float* acc) {
  if (rows != 4 || K % 8 != 0) return dot_rows_generic(w, K, x, M, rows, acc);
  for (std::int64_t m = 0; m < M; ++m) {
    const float* xv = x + m * K;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (std::int64_t k = 0; k < K; k += 8) {
      const __m256 xk = _mm256_loadu_ps(xv + k);
      a0 = _mm256_fmadd_ps(load8(w + k), xk, a0);
      a1 = _mm256_fmadd_ps(load8(w + K + k), xk, a1);
      a2 = _mm256_fmadd_ps(load8(w + 2 * K + k), xk, a2);
      a3 = _mm256_fmadd_ps(load8(w + 3 * K + k), xk, a3);
    }
    acc[m * 4 + 0] = sum8(a0);
    acc[m * 4 + 1] = sum8(a1);
    acc[m * 4 + 2] = sum8(a2);
    acc[m * 4 + 3] = sum8(a3);
  }
}

HFCPP_AVX512_CODE_BEGIN

// --- AVX-512: one weight row at a time, as a single sequential stream (four interleaved rows
// per step run ~15% slower here), with the row's loads aligned to 64 bytes: weights mapped from a
// safetensors file start wherever the header ends, and loads that straddle cache lines cost up to
// a quarter of the bandwidth. The first and last partial vectors are masked loads.

// Elements of T from p to the next 64-byte boundary, at most `count`.
template <typename T>
inline std::int64_t to_line_start(const T* p, std::int64_t count) {
  const auto misalign = reinterpret_cast<std::uintptr_t>(p) % 64;
  return std::min<std::int64_t>(count, misalign == 0 ? 0 : static_cast<std::int64_t>((64 - misalign) / sizeof(T)));
}

// dot(w, x) over K elements, x in float32, w float32 or bfloat16.
template <typename W>
__attribute__((target("avx512f,avx512bw,avx512vl"))) float dot_row_avx512(const W* w, const float* x, std::int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  const std::int64_t head = to_line_start(w, K);  // up to 31 bfloat16 weights: two steps
  std::int64_t k = 0;
  for (; k < head; k += 16) {
    const auto part = static_cast<__mmask16>((1u << std::min<std::int64_t>(16, head - k)) - 1);
    a0 = _mm512_fmadd_ps(load16(w + k, part), _mm512_maskz_loadu_ps(part, x + k), a0);
  }
  k = head;
  for (; k + 64 <= K; k += 64) {
    a0 = _mm512_fmadd_ps(load16(w + k, 0xFFFF), _mm512_loadu_ps(x + k), a0);
    a1 = _mm512_fmadd_ps(load16(w + k + 16, 0xFFFF), _mm512_loadu_ps(x + k + 16), a1);
    a2 = _mm512_fmadd_ps(load16(w + k + 32, 0xFFFF), _mm512_loadu_ps(x + k + 32), a2);
    a3 = _mm512_fmadd_ps(load16(w + k + 48, 0xFFFF), _mm512_loadu_ps(x + k + 48), a3);
  }
  for (; k < K; k += 16) {
    const __mmask16 part = lanes_from(k, K);
    a0 = _mm512_fmadd_ps(load16(w + k, part), _mm512_maskz_loadu_ps(part, x + k), a0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// dot(w, x) for bfloat16 w and x with AVX512-BF16's pair-wise dot product: one instruction per 32
// weights instead of widening each half to float32 first. Every product is exact in float32, so
// only the order of the sums differs from the widening kernels (the instruction also treats
// bfloat16 subnormals, below 1.2e-38, as zero). The pairs need not start at even indices: x and w
// shift together.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) inline __m512bh load32(const bf16* p, __mmask32 mask) {
  return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, p));
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) float dot_row_bf16_pairs(const bf16* w, const bf16* x,
                                                                               std::int64_t K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  std::int64_t k = to_line_start(w, K);
  if (k > 0) {
    const __mmask32 head = static_cast<__mmask32>((1ull << k) - 1);
    a0 = _mm512_dpbf16_ps(a0, load32(x, head), load32(w, head));
  }
  for (; k + 128 <= K; k += 128) {
    a0 = _mm512_dpbf16_ps(a0, load32(x + k, ~0u), load32(w + k, ~0u));
    a1 = _mm512_dpbf16_ps(a1, load32(x + k + 32, ~0u), load32(w + k + 32, ~0u));
    a2 = _mm512_dpbf16_ps(a2, load32(x + k + 64, ~0u), load32(w + k + 64, ~0u));
    a3 = _mm512_dpbf16_ps(a3, load32(x + k + 96, ~0u), load32(w + k + 96, ~0u));
  }
  for (; k < K; k += 32) {
    const __mmask32 part = K - k >= 32 ? ~0u : static_cast<__mmask32>((1ull << (K - k)) - 1);
    a0 = _mm512_dpbf16_ps(a0, load32(x + k, part), load32(w + k, part));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// acc[m * rows + r] for the AVX-512 kernels: row by row; the inputs after the first come from L1.
// Each row also asks for the weights kFetchAhead bytes on: the hardware prefetcher alone left
// the loads waiting on memory, most at the start of each pass and chunk (passes of all of a
// token's weights ran 1.16x the time of reading them without this, 1.06-1.08x with 4-8 KiB).
template <typename W, typename X>
void dot_rows_avx512(const W* w, std::int64_t K, const X* x, std::int64_t M, std::int64_t rows, float* acc) {
  constexpr std::int64_t kFetchAhead = 8192;
  const std::int64_t row_bytes = K * static_cast<std::int64_t>(sizeof(W));
  for (std::int64_t r = 0; r < rows; ++r) {
    const char* ahead = reinterpret_cast<const char*>(w + r * K) + kFetchAhead;
    for (std::int64_t line = 0; line < row_bytes; line += 64) __builtin_prefetch(ahead + line, 0, 3);
    for (std::int64_t m = 0; m < M; ++m) {
      if constexpr (std::is_same_v<X, bf16>) acc[m * rows + r] = dot_row_bf16_pairs(w + r * K, x + m * K, K);
      else acc[m * rows + r] = dot_row_avx512(w + r * K, x + m * K, K);
    }
  }
}

HFCPP_AVX512_CODE_END

template <typename W>
void dot_rows(const W* w, std::int64_t K, const float* x, std::int64_t M, std::int64_t rows, float* acc) {
  switch (current_isa()) {
    case Isa::kAvx512: return dot_rows_avx512(w, K, x, M, rows, acc);
    case Isa::kAvx2: return dot_rows_avx2(w, K, x, M, rows, acc);
    default: return dot_rows_generic(w, K, x, M, rows, acc);
  }
}

// x's rows in float32 (a copy only for bfloat16 or a strided x).
at::Tensor float_rows(const at::Tensor& x) {
  if (x.scalar_type() == at::kFloat && x.is_contiguous()) return x;
  return x.to(at::kFloat).contiguous();
}

// silu(gate) * up for gate and up as the eager path holds them (rounded to T).
template <typename T>
inline float silu_times(float gate, float up) {
  return rounded<T>(gate / (1.0f + std::exp(-gate))) * up;
}

template <typename W, typename O>
void linear_typed(const at::Tensor& x, const std::vector<Projection>& projections) {
  const std::int64_t K = x.size(-1);
  // bfloat16 activations meet bfloat16 weights as they are where the CPU has pair-wise dot products.
  constexpr bool kBf16Weights = std::is_same_v<W, bf16>;
  const bool bf16_pairs = kBf16Weights && bf16_pairs_available() && x.scalar_type() == at::kBFloat16;
  const at::Tensor xf = bf16_pairs ? x.contiguous() : float_rows(x);
  const std::int64_t M = xf.numel() / K;
  const float* xp = bf16_pairs ? nullptr : xf.data_ptr<float>();
  const bf16* x_pairs = bf16_pairs ? xf.data_ptr<bf16>() : nullptr;
  constexpr std::int64_t kRows = 4;
  const auto float_bias = [](const at::Tensor* bias) {
    return bias != nullptr && bias->defined() ? bias->to(at::kFloat).contiguous() : at::Tensor();
  };
  // Every matrix's blocks of rows in one range, so the pass is one thread hand-off.
  struct Matrix {
    const W* w;
    std::int64_t N;
    at::Tensor bias;  // float32
    const O* residual;
    O* out;
    std::int64_t first_block;
    const W* up = nullptr;  // gated: rows of the up projection, read beside the gate's
    at::Tensor up_bias;
  };
  std::vector<Matrix> matrices;
  std::int64_t blocks = 0;
  for (const Projection& p : projections) {
    Matrix m{p.weight.data_ptr<W>(), p.weight.size(0), float_bias(&p.bias),
             p.residual.defined() ? p.residual.data_ptr<O>() : nullptr, p.out.data_ptr<O>(), blocks, nullptr, {}};
    if (p.up != nullptr) {
      m.up = p.up->data_ptr<W>();
      m.up_bias = float_bias(p.up_bias);
    }
    blocks += (m.N + kRows - 1) / kRows;
    matrices.push_back(std::move(m));
  }
  const auto dot_block = [&](const W* wp, std::int64_t rows, float* acc) {
    if constexpr (kBf16Weights) {
      if (bf16_pairs) return dot_rows_avx512(wp, K, x_pairs, M, rows, acc);
    }
    dot_rows(wp, K, xp, M, rows, acc);
  };
  // Chunks of ~64K weights (64 rows of 1024): each thread streams its own share and then helps
  // with the others' (parallel_for_dynamic); below that a hand-off costs more than it saves.
  const std::int64_t chunk = std::max<std::int64_t>(1, 65536 / (K * kRows));
  detail::parallel_for_dynamic(0, blocks, chunk, kernel_threads(), [&](std::int64_t b0, std::int64_t b1) {
    // A block's dot products (and the up projection's): on the stack for the usual few rows.
    constexpr std::int64_t kStackRows = 16;
    float stack[2 * kStackRows * kRows];
    std::vector<float> heap(M <= kStackRows ? 0 : static_cast<std::size_t>(2 * M * kRows));
    float* const acc = M <= kStackRows ? stack : heap.data();
    float* const up_acc = acc + M * kRows;
    std::size_t index = 0;
    for (std::int64_t b = b0; b < b1; ++b) {
      while (index + 1 < matrices.size() && matrices[index + 1].first_block <= b) ++index;
      const Matrix& matrix = matrices[index];
      const std::int64_t N = matrix.N, n0 = (b - matrix.first_block) * kRows, rows = std::min(kRows, N - n0);
      dot_block(matrix.w + n0 * K, rows, acc);
      if (matrix.up != nullptr) dot_block(matrix.up + n0 * K, rows, up_acc);
      const float* bp = matrix.bias.defined() ? matrix.bias.template data_ptr<float>() : nullptr;
      const float* up_bp = matrix.up_bias.defined() ? matrix.up_bias.template data_ptr<float>() : nullptr;
      for (std::int64_t m = 0; m < M; ++m)
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t n = n0 + r;
          float v = acc[m * rows + r];
          if (bp != nullptr) v += bp[n];
          if (matrix.up != nullptr) {
            const float up = up_acc[m * rows + r] + (up_bp != nullptr ? up_bp[n] : 0.0f);
            v = silu_times<O>(rounded<O>(v), rounded<O>(up));
          }
          // residual + linear(x), as eager adds them
          if (matrix.residual != nullptr) v = rounded<O>(v) + to_float(matrix.residual[m * N + n]);
          matrix.out[m * N + n] = store<O>(v);
        }
    }
  });
}

// --- small per-token ops ---

template <typename T>
void rms_norm_scalar(const T* row, const T* wp, std::int64_t K, float eps, T* out) {
  float sum = 0;
  for (std::int64_t k = 0; k < K; ++k) sum += to_float(row[k]) * to_float(row[k]);
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(K) + eps);
  for (std::int64_t k = 0; k < K; ++k) out[k] = store<T>(to_float(wp[k]) * rounded<T>(to_float(row[k]) * inv));
}

HFCPP_AVX512_CODE_BEGIN

template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void rms_norm_avx512(const T* row, const T* wp, std::int64_t K,
                                                                          float eps, T* out) {
  __m512 squares = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < K; k += 16) {
    const __m512 v = load16(row + k, lanes_from(k, K));
    squares = _mm512_fmadd_ps(v, v, squares);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(squares) / static_cast<float>(K) + eps));
  for (std::int64_t k = 0; k < K; k += 16) {
    const __mmask16 part = lanes_from(k, K);
    store16(out + k, _mm512_mul_ps(load16(wp + k, part), rounded16<T>(_mm512_mul_ps(load16(row + k, part), inv))), part);
  }
}

HFCPP_AVX512_CODE_END

template <typename T>
void rms_norm_typed(const at::Tensor& x, const at::Tensor& w, double eps, at::Tensor& out) {
  const std::int64_t K = w.size(0), M = x.numel() / K;
  const T* xp = x.data_ptr<T>();
  const T* wp = w.data_ptr<T>();
  T* op = out.data_ptr<T>();
  const bool vector = current_isa() == Isa::kAvx512;
  for (std::int64_t m = 0; m < M; ++m) {
    if (vector) rms_norm_avx512(xp + m * K, wp, K, static_cast<float>(eps), op + m * K);
    else rms_norm_scalar(xp + m * K, wp, K, static_cast<float>(eps), op + m * K);
  }
}

// One head's x * cos + rotate_half(x) * sin, in place (the rotated half read before it is written).
template <typename T>
void rotate_scalar(T* v, const T* cp, const T* sp, std::int64_t D) {
  const std::int64_t half = D / 2;
  for (std::int64_t d = 0; d < half; ++d) {
    const float low = to_float(v[d]), high = to_float(v[d + half]);
    v[d] = store<T>(rounded<T>(low * to_float(cp[d])) + rounded<T>(rounded<T>(-high) * to_float(sp[d])));
    v[d + half] = store<T>(rounded<T>(high * to_float(cp[d + half])) + rounded<T>(low * to_float(sp[d + half])));
  }
}

HFCPP_AVX512_CODE_BEGIN

// A product and a sum as instructions of their own: the compiler fuses a plain multiply and add
// into one FMA, which does not round as eager's separate mul and add do.
__attribute__((target("avx512f"))) inline __m512 mul(__m512 a, __m512 b) {
  return _mm512_mul_round_ps(a, b, _MM_FROUND_CUR_DIRECTION);
}
__attribute__((target("avx512f"))) inline __m512 add(__m512 a, __m512 b) {
  return _mm512_add_round_ps(a, b, _MM_FROUND_CUR_DIRECTION);
}

template <typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void rotate_avx512(T* v, const T* cp, const T* sp, std::int64_t D) {
  const std::int64_t half = D / 2;
  for (std::int64_t d = 0; d < half; d += 16) {
    const __mmask16 part = lanes_from(d, half);
    const __m512 low = load16(v + d, part), high = load16(v + half + d, part);
    const __m512 minus_high = _mm512_sub_ps(_mm512_setzero_ps(), high);
    const __m512 new_low = add(rounded16<T>(mul(low, load16(cp + d, part))), rounded16<T>(mul(minus_high, load16(sp + d, part))));
    const __m512 new_high =
        add(rounded16<T>(mul(high, load16(cp + half + d, part))), rounded16<T>(mul(low, load16(sp + half + d, part))));
    store16(v + d, new_low, part);
    store16(v + half + d, new_high, part);
  }
}

HFCPP_AVX512_CODE_END

template <typename T>
void rotary_typed(at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const std::int64_t M = x.size(0), heads = x.size(1), D = x.size(2);
  T* xp = x.data_ptr<T>();
  const T* cp = cos.data_ptr<T>();
  const T* sp = sin.data_ptr<T>();
  const bool vector = current_isa() == Isa::kAvx512;
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t h = 0; h < heads; ++h) {
      T* v = xp + (m * heads + h) * D;
      if (vector) rotate_avx512(v, cp + m * D, sp + m * D, D);
      else rotate_scalar(v, cp + m * D, sp + m * D, D);
    }
}

}  // namespace

void linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, const at::Tensor& residual, at::Tensor& out) {
  linear_many(x, {{w, bias, residual, out}});
}

void linear_many(const at::Tensor& x, const std::vector<Projection>& projections) {
  check(!projections.empty() && supported(x), [&] { return "linear needs a CPU float32/bfloat16 x and a weight"; });
  const at::Tensor& first = projections.front().weight;
  for (const Projection& p : projections) {
    const at::Tensor &w = p.weight, &out = p.out, &residual = p.residual;
    check(supported(w) && supported(out) && w.dim() == 2 && w.is_contiguous() && out.is_contiguous() &&
              w.scalar_type() == first.scalar_type() && out.scalar_type() == projections.front().out.scalar_type(),
          [&] { return "linear needs CPU float32/bfloat16 tensors and contiguous [N, K] weights of one dtype"; });
    check(x.size(-1) == w.size(1) && out.numel() == x.numel() / w.size(1) * w.size(0),
          [&] { return "linear: x " + c10::str(x.sizes()) + ", weight " + c10::str(w.sizes()) + ", out " + c10::str(out.sizes()); });
    check(!residual.defined() || (residual.is_contiguous() && residual.scalar_type() == out.scalar_type() &&
                                  residual.numel() == out.numel()),
          [&] { return "linear: residual must be contiguous and shaped like the output"; });
    check(!p.bias.defined() || p.bias.numel() == w.size(0),
          [&] { return "linear: bias " + c10::str(p.bias.sizes()) + " for weight " + c10::str(w.sizes()); });
    check(p.up == nullptr || (p.up->sizes() == w.sizes() && p.up->is_contiguous() && p.up->scalar_type() == w.scalar_type() &&
                              (p.up_bias == nullptr || !p.up_bias->defined() || p.up_bias->numel() == w.size(0))),
          [&] { return "linear: the up weight (and bias) must be shaped and typed like the gate's " + c10::str(w.sizes()); });
  }
  const bool w_bf16 = first.scalar_type() == at::kBFloat16;
  const bool out_bf16 = projections.front().out.scalar_type() == at::kBFloat16;
  if (w_bf16 && out_bf16) linear_typed<bf16, bf16>(x, projections);
  else if (w_bf16) linear_typed<bf16, float>(x, projections);
  else if (out_bf16) linear_typed<float, bf16>(x, projections);
  else linear_typed<float, float>(x, projections);
}

void rms_norm(const at::Tensor& x, const at::Tensor& w, double eps, at::Tensor& out) {
  check(supported(x) && x.is_contiguous() && out.is_contiguous() && x.scalar_type() == w.scalar_type() &&
            out.scalar_type() == x.scalar_type() && x.numel() == out.numel() && x.size(-1) == w.size(0),
        [&] { return "rms_norm: x " + c10::str(x.sizes(), " ", x.scalar_type()) + ", weight " + c10::str(w.sizes(), " ", w.scalar_type()); });
  if (x.scalar_type() == at::kBFloat16) rms_norm_typed<bf16>(x, w, eps, out);
  else rms_norm_typed<float>(x, w, eps, out);
}

void rotary(at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  check(supported(x) && x.dim() == 3 && x.is_contiguous() && cos.is_contiguous() && sin.is_contiguous() &&
            cos.scalar_type() == x.scalar_type() && sin.scalar_type() == x.scalar_type() &&
            cos.numel() == x.size(0) * x.size(2) && x.size(2) % 2 == 0,
        [&] { return "rotary: x [rows, heads, D] " + c10::str(x.sizes()) + " with cos/sin [rows, D] " + c10::str(cos.sizes()); });
  if (x.scalar_type() == at::kBFloat16) rotary_typed<bf16>(x, cos, sin);
  else rotary_typed<float>(x, cos, sin);
}

std::string isa() {
  switch (current_isa()) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    default: return "generic";
  }
}

}  // namespace hfcpp::detail::decode
