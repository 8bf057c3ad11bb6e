// Scaled dot-product attention: the reference (eager) math and a fused CPU kernel for
// attn_implementation "sdpa" (libtorch 1.13 has no at::scaled_dot_product_attention).
//
// Shapes: query [B, Hq, Lq, D], key / value [B, Hkv, Lk, D] with Hq % Hkv == 0 (grouped-query
// attention: query head h reads kv head h / (Hq / Hkv)). Any strides (e.g. transposed views of
// [B, L, H, D] projections). Returns [B, Hq, Lq, D] in the query's dtype.
//
// mask: undefined, or broadcastable to [B, Hq, Lq, Lk] (padding masks [B, 1, 1, Lk], 4-D masks
// [B, 1|Hq, Lq, Lk], ...). A floating mask is added to the scaled scores; a bool mask keeps the
// keys where it is true.
//
// Masking semantics, shared by both functions (Transformers' eager path):
//  - scores = (q k^T) * scale + additive_mask, in float32;
//  - keys excluded by a bool mask or by is_causal are set to float32's lowest value (finfo.min),
//    not -inf, so a row with every key excluded (or every key at finfo.min, as Transformers'
//    padding masks make it) is softmax of equal values: the uniform average of all Lk values;
//  - a row whose scores are all -inf (only a user's -inf additive mask can do that) is 0, not NaN.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace hfcpp::nn {

struct AttentionOptions {
  // Causal w.r.t. the END of the key sequence: query i (of Lq) sees keys j <= i + (Lk - Lq),
  // which is what decoding with a KV cache needs (Lq new tokens after Lk - Lq cached ones).
  bool is_causal = false;
  std::optional<double> scale;  // default 1 / sqrt(D)
  double dropout_p = 0.0;       // dropout on the attention weights; > 0 takes the reference path
};

// Fused attention: tiled over keys with an online softmax, so memory stays O(tile x D) per thread
// whatever the sequence length; key tiles entirely in a causal row tile's future are skipped;
// threads (torch's intra-op count, see hfcpp/runtime.h) over batch x kv heads x query tiles, with
// the query heads that share a kv head processed together so K/V is read once per group.
// float32 and bfloat16 inputs, accumulated in float32.
//
// Falls back to reference_attention (same results within rounding) when:
//  - grad mode is on and any input requires grad (the kernel is forward-only);
//  - dropout_p > 0;
//  - the inputs are not on the CPU, or are float16 / float64.
// Throws hfcpp::ValueError naming the shapes when they do not fit together.
at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, const at::Tensor& mask = {},
                                        const AttentionOptions& options = {});

// The eager math, materialising the [Lq, Lk] scores: softmax(q k^T * scale + mask) v. Matmuls run
// in the inputs' dtype (float32 for float16 on the CPU, which has no float16 matmul), the softmax
// in float32 (float64 for float64 inputs), as Transformers' eager attention does; K/V are repeated
// for grouped-query attention. Differentiable.
at::Tensor reference_attention(const at::Tensor& query, const at::Tensor& key,
                               const at::Tensor& value, const at::Tensor& mask = {},
                               const AttentionOptions& options = {});

// Instruction set the fused kernel runs with on this CPU: "avx512", "avx2" or "generic".
// ATEN_CPU_CAPABILITY (read once; "avx2" or "default") lowers it, as it does for torch's kernels.
std::string attention_kernel_isa();

}  // namespace hfcpp::nn
