// Internal: CPU kernels for one decoding step (a few tokens through a decoder whose weights are
// streamed from memory once per token). Going through ~45 libtorch ops per layer costs more time
// in dispatch, allocation and TensorIterator set-up than the arithmetic of a token; these kernels
// do each step of a layer in one call, on preallocated outputs, with torch's intra-op threads.
//
// Every kernel takes float32 or bfloat16 tensors (the model's dtype), computes in float32 and
// rounds where the eager path rounds, so results equal the eager path's up to summation order.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace hfcpp::detail::decode {

// out[m, n] = sum_k x[m, k] w[n, k] (+ bias[n]) (+ residual[m, n]), rounded once to out's dtype.
// x [M, K] (M small: the batch), w [N, K] contiguous (a Linear weight), out [M, N]; residual may
// alias out.
void linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias, const at::Tensor& residual, at::Tensor& out);

// One matrix of linear_many: undefined bias or residual for none. With `up` (a weight shaped like
// `weight`, and its bias `up_bias` or null), the gated MLP input of Llama in the same pass:
// out = silu(x weight^T + bias) * (x up^T + up_bias), each step rounded as the eager path rounds it.
struct Projection {
  const at::Tensor& weight;
  const at::Tensor& bias;
  const at::Tensor& residual;
  at::Tensor& out;
  const at::Tensor* up = nullptr;
  const at::Tensor* up_bias = nullptr;
};
// linear() of one x through several matrices of one dtype (q, k and v; gate and up) in a single
// parallel pass: one thread hand-off instead of one per matrix.
void linear_many(const at::Tensor& x, const std::vector<Projection>& projections);

// Llama's RMSNorm of each row of x [M, K]: w * (x * rsqrt(mean(x^2) + eps)), computed in float32
// with the normalised value rounded to x's dtype before the weight multiplies it.
void rms_norm(const at::Tensor& x, const at::Tensor& w, double eps, at::Tensor& out);

// Rotary embedding in place on x [M, heads, D] with cos/sin [M, D]: x * cos + rotate_half(x) * sin.
void rotary(at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// One query per (row, head) over the first `length` cached positions: softmax(q k^T / divisor +
// mask) v with the softmax in float32. q [M, H, D]; k/v caches [M, KV, capacity, D] (H % KV ==
// 0); mask undefined, additive [M, >= length] (float or bf16), or an int64 padding mask
// [M, >= length] whose zeros block keys (a row must keep at least one); out [M, H, D].
void attention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache, std::int64_t length,
               const at::Tensor& mask, double divisor, at::Tensor& out);

// "avx512", "avx2" or "generic": the instruction set the matrix kernels use on this CPU
// (ATEN_CPU_CAPABILITY=avx2|default lowers it, as for torch's own kernels).
std::string isa();

}  // namespace hfcpp::detail::decode
