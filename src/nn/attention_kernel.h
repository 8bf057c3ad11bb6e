// Private interface between attention.cpp (checks, fallbacks, threads) and the fused kernel,
// which is compiled once per instruction set (attention_kernel_<isa>.cpp) and picked at run time.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

#include "hfcpp/nn/attention.h"

namespace hfcpp::nn::detail {

enum class ElementType { kFloat32, kBFloat16 };
enum class MaskKind { kNone, kAdditive, kKeep };  // float added to scores | bool, true = keep
enum class KernelIsa { kGeneric, kAvx2, kAvx512 };

// Rows of a work item: the query heads sharing one kv head, interleaved position-major
// (row = position * group + head_in_group), so a tile spans few positions and causal skipping
// stays tight while K/V is read once for the whole group.
inline constexpr std::int64_t kRowTile = 64;
inline constexpr std::int64_t kKeyTile = 64;

// One fused attention call as raw pointers and element strides. The last dimension of query,
// key and value is contiguous; out is a contiguous [B, Hq, Lq, D] tensor of the inputs' dtype.
struct AttentionProblem {
  ElementType element_type = ElementType::kFloat32;
  const void* query = nullptr;
  const void* key = nullptr;
  const void* value = nullptr;
  void* out = nullptr;
  std::int64_t batch = 0, query_heads = 0, kv_heads = 0, query_len = 0, kv_len = 0, head_dim = 0;
  std::array<std::int64_t, 3> query_strides{}, key_strides{}, value_strides{};  // batch, head, position
  float scale = 1.0f;
  bool causal = false;
  MaskKind mask_kind = MaskKind::kNone;
  const void* mask = nullptr;                 // float or bool, see mask_kind
  std::array<std::int64_t, 4> mask_strides{};  // over [B, Hq, Lq, Lk]; 0 where it broadcasts

  std::int64_t group() const { return query_heads / kv_heads; }
  std::int64_t rows_per_kv_head() const { return group() * query_len; }
  std::int64_t row_tiles() const { return (rows_per_kv_head() + kRowTile - 1) / kRowTile; }
  std::int64_t work_items() const { return batch * kv_heads * row_tiles(); }
};

// Computes work items [first, last) (batch x kv head x row tile) of `problem`.
void attention_tiles_generic(const AttentionProblem& problem, std::int64_t first, std::int64_t last);
#if defined(__x86_64__)
void attention_tiles_avx2(const AttentionProblem& problem, std::int64_t first, std::int64_t last);
void attention_tiles_avx512(const AttentionProblem& problem, std::int64_t first, std::int64_t last);
#endif

// The best instruction set of this CPU, lowered by ATEN_CPU_CAPABILITY (read once).
KernelIsa best_kernel_isa();

// How many times fused_attention ran the kernel in this process: lets tests tell the fused path
// from the reference fallback, whose results are equal within rounding.
std::int64_t fused_attention_calls();

// scaled_dot_product_attention without the fallbacks and with a chosen instruction set, so tests
// can run every kernel the CPU has. Throws ValueError for inputs the kernel cannot take.
at::Tensor fused_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                           const at::Tensor& mask, const AttentionOptions& options, KernelIsa isa);

}  // namespace hfcpp::nn::detail
