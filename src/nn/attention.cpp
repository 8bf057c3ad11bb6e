// Scaled dot-product attention: argument checks, the reference math, the fallbacks and the
// threading of the fused kernel (attention_tiles.h), whose instruction set is picked per CPU.
#include "hfcpp/nn/attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>

#include "../util/parallel.h"
#include "attention_kernel.h"
#include "hfcpp/error.h"

namespace hfcpp::nn {
namespace {

std::string shapes_of(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                      const at::Tensor& mask) {
  std::ostringstream text;
  text << "query " << query.sizes() << ", key " << key.sizes() << ", value " << value.sizes();
  if (mask.defined()) text << ", mask " << mask.sizes();
  return text.str();
}

[[noreturn]] void fail(const std::string& what, const at::Tensor& query, const at::Tensor& key,
                       const at::Tensor& value, const at::Tensor& mask) {
  throw ValueError("scaled_dot_product_attention: " + what + " (" + shapes_of(query, key, value, mask) + ")");
}

// Shapes as the header describes them; throws ValueError naming all of them otherwise.
void check_arguments(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                     const at::Tensor& mask) {
  if (!query.defined() || !key.defined() || !value.defined())
    throw ValueError("scaled_dot_product_attention: query, key and value must all be defined tensors");
  if (query.dim() != 4 || key.dim() != 4 || value.dim() != 4)
    fail("query, key and value must be 4-D [batch, heads, length, head_dim]", query, key, value, mask);
  if (key.sizes() != value.sizes())
    fail("key and value must have the same shape [batch, kv_heads, kv_length, head_dim]", query, key, value, mask);
  if (query.size(0) != key.size(0)) fail("query and key have different batch sizes", query, key, value, mask);
  if (query.size(3) != key.size(3)) fail("query and key have different head_dim", query, key, value, mask);
  if (key.size(1) == 0 || query.size(1) % key.size(1) != 0)
    fail("the number of query heads must be a multiple of the number of kv heads", query, key, value, mask);
  if (query.scalar_type() != key.scalar_type() || query.scalar_type() != value.scalar_type())
    fail(std::string("query, key and value must have one dtype, got ") + c10::toString(query.scalar_type()) +
             ", " + c10::toString(key.scalar_type()) + ", " + c10::toString(value.scalar_type()),
         query, key, value, mask);
  if (!at::isFloatingType(query.scalar_type()))
    fail(std::string("query, key and value must be floating point, got ") + c10::toString(query.scalar_type()),
         query, key, value, mask);
  if (key.device() != query.device() || value.device() != query.device())
    fail("query, key and value are on different devices", query, key, value, mask);
  if (!mask.defined()) return;
  if (mask.device() != query.device()) fail("the mask is on another device than query", query, key, value, mask);
  if (mask.scalar_type() != at::kBool && !at::isFloatingType(mask.scalar_type()))
    fail(std::string("the mask must be bool (true = keep) or floating (added), got ") +
             c10::toString(mask.scalar_type()),
         query, key, value, mask);
  if (mask.dim() > 4) fail("the mask has more than 4 dimensions", query, key, value, mask);
  const std::int64_t target[4] = {query.size(0), query.size(1), query.size(2), key.size(2)};
  for (std::int64_t i = 0; i < mask.dim(); ++i) {
    const std::int64_t size = mask.size(mask.dim() - 1 - i), wanted = target[3 - i];
    if (size != wanted && size != 1)
      fail("the mask does not broadcast to [batch, query_heads, query_length, kv_length] = [" +
               std::to_string(target[0]) + ", " + std::to_string(target[1]) + ", " + std::to_string(target[2]) +
               ", " + std::to_string(target[3]) + "]",
           query, key, value, mask);
  }
}

double scale_of(const at::Tensor& query, const AttentionOptions& options) {
  return options.scale.value_or(1.0 / std::sqrt(static_cast<double>(query.size(3))));
}

bool any_requires_grad(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                       const at::Tensor& mask) {
  return query.requires_grad() || key.requires_grad() || value.requires_grad() ||
         (mask.defined() && mask.requires_grad());
}

// Keys [B, Hkv, L, D] repeated to [B, Hkv * group, L, D] (Transformers' repeat_kv).
at::Tensor repeat_kv(const at::Tensor& states, std::int64_t group) {
  return group == 1 ? states : states.repeat_interleave(group, 1);
}

detail::KernelIsa isa_from_environment() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  auto isa = __builtin_cpu_supports("avx512f") ? detail::KernelIsa::kAvx512
             : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? detail::KernelIsa::kAvx2
                                                                                : detail::KernelIsa::kGeneric;
#else
  auto isa = detail::KernelIsa::kGeneric;
#endif
  // Lowered the way torch's own kernels are (ATen's ATEN_CPU_CAPABILITY), never raised.
  if (const char* wanted = std::getenv("ATEN_CPU_CAPABILITY")) {
    const std::string name = wanted;
    if (name == "default") isa = detail::KernelIsa::kGeneric;
    else if (name == "avx2" && isa == detail::KernelIsa::kAvx512) isa = detail::KernelIsa::kAvx2;
  }
  return isa;
}

void run_tiles(detail::KernelIsa isa, const detail::AttentionProblem& problem, std::int64_t first,
               std::int64_t last) {
  switch (isa) {
#if defined(__x86_64__)
    case detail::KernelIsa::kAvx512: return detail::attention_tiles_avx512(problem, first, last);
    case detail::KernelIsa::kAvx2: return detail::attention_tiles_avx2(problem, first, last);
#endif
    default: return detail::attention_tiles_generic(problem, first, last);
  }
}

// The inputs' last dimension must be contiguous for the kernel; other strides are free.
at::Tensor with_contiguous_rows(const at::Tensor& t) {
  return t.stride(-1) == 1 || t.size(-1) == 1 ? t : t.contiguous();
}

}  // namespace

at::Tensor reference_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                               const at::Tensor& mask, const AttentionOptions& options) {
  check_arguments(query, key, value, mask);
  const std::int64_t group = query.size(1) / key.size(1);
  const std::int64_t query_len = query.size(2), kv_len = key.size(2);
  // libtorch has no float16 matmul on the CPU: compute those in float32.
  const bool widen = query.scalar_type() == at::kHalf && query.device().is_cpu();
  const auto compute = [&](const at::Tensor& t) { return widen ? t.to(at::kFloat) : t; };
  const auto softmax_dtype = query.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const double lowest = softmax_dtype == at::kDouble ? std::numeric_limits<double>::lowest()
                                                     : std::numeric_limits<float>::lowest();

  at::Tensor scores = at::matmul(compute(query), compute(repeat_kv(key, group)).transpose(-2, -1)).to(softmax_dtype) *
                      scale_of(query, options);
  if (mask.defined() && mask.scalar_type() != at::kBool) scores = scores + mask.to(softmax_dtype);
  // Excluded keys get finfo.min rather than -inf, as in Transformers' eager masks.
  at::Tensor excluded;
  if (mask.defined() && mask.scalar_type() == at::kBool) excluded = mask.logical_not();
  if (options.is_causal) {
    at::Tensor future = at::ones({query_len, kv_len}, query.options().dtype(at::kBool))
                            .triu(kv_len - query_len + 1);
    excluded = excluded.defined() ? excluded.logical_or(future) : future;
  }
  if (excluded.defined()) scores = scores.masked_fill(excluded, lowest);
  at::Tensor weights = at::softmax(scores, -1);
  if (mask.defined() && mask.scalar_type() != at::kBool) {
    // Rows whose scores are all -inf (a -inf additive mask) attend to nothing: 0, not NaN.
    at::Tensor dead = scores.amax(-1, /*keepdim=*/true) == -std::numeric_limits<double>::infinity();
    if (dead.any().item<bool>()) weights = weights.masked_fill(dead, 0.0);
  }
  if (options.dropout_p > 0.0) weights = at::dropout(weights, options.dropout_p, /*train=*/true);
  const at::Tensor values = compute(repeat_kv(value, group));
  return at::matmul(weights.to(values.scalar_type()), values).to(query.scalar_type());
}

namespace detail {
namespace {
std::atomic<std::int64_t> kernel_calls{0};
}  // namespace

std::int64_t fused_attention_calls() { return kernel_calls.load(std::memory_order_relaxed); }

KernelIsa best_kernel_isa() {
  static const KernelIsa isa = isa_from_environment();
  return isa;
}

at::Tensor fused_attention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                           const at::Tensor& mask, const AttentionOptions& options, KernelIsa isa) {
  check_arguments(query, key, value, mask);
  const auto dtype = query.scalar_type();
  if (!query.device().is_cpu() || (dtype != at::kFloat && dtype != at::kBFloat16))
    fail("the fused kernel takes float32 or bfloat16 CPU tensors", query, key, value, mask);
  if (std::max(query.size(2), key.size(2)) >= std::numeric_limits<std::int32_t>::max() / 2)
    fail("sequences this long are not supported", query, key, value, mask);

  const at::Tensor q = with_contiguous_rows(query), k = with_contiguous_rows(key), v = with_contiguous_rows(value);
  at::Tensor out = at::empty(query.sizes(), query.options().memory_format(at::MemoryFormat::Contiguous));
  AttentionProblem problem;
  problem.element_type = dtype == at::kBFloat16 ? ElementType::kBFloat16 : ElementType::kFloat32;
  problem.query = q.data_ptr();
  problem.key = k.data_ptr();
  problem.value = v.data_ptr();
  problem.out = out.data_ptr();
  problem.batch = q.size(0);
  problem.query_heads = q.size(1);
  problem.kv_heads = k.size(1);
  problem.query_len = q.size(2);
  problem.kv_len = k.size(2);
  problem.head_dim = q.size(3);
  problem.query_strides = {q.stride(0), q.stride(1), q.stride(2)};
  problem.key_strides = {k.stride(0), k.stride(1), k.stride(2)};
  problem.value_strides = {v.stride(0), v.stride(1), v.stride(2)};
  problem.scale = static_cast<float>(scale_of(query, options));
  problem.causal = options.is_causal;

  at::Tensor m;  // keeps a converted mask alive while the kernel reads it
  if (mask.defined()) {
    const bool keep = mask.scalar_type() == at::kBool;
    m = keep ? mask : mask.to(at::kFloat);
    if (m.dim() > 0 && m.stride(-1) != 1 && m.size(-1) != 1) m = m.contiguous();
    at::Tensor view = m;
    while (view.dim() < 4) view = view.unsqueeze(0);
    view = view.expand({problem.batch, problem.query_heads, problem.query_len, problem.kv_len});
    problem.mask_kind = keep ? MaskKind::kKeep : MaskKind::kAdditive;
    problem.mask = m.data_ptr();
    problem.mask_strides = {view.stride(0), view.stride(1), view.stride(2), view.stride(3)};
  }
  kernel_calls.fetch_add(1, std::memory_order_relaxed);
  if (out.numel() == 0) return out;
  // Threads: torch's intra-op count. This kernel runs between OpenBLAS matmuls, whose workers keep
  // spinning for a while after each one; more threads of ours than torch's pool only fight them
  // (measured: BERT-base b8 s128 15% slower, GPT-2-style decoding 3x slower with two). A decoding
  // step's attention (one query row, a few hundred thousand multiply-adds) stays on one thread.
  const std::int64_t multiply_adds =
      problem.batch * problem.query_heads * problem.query_len * problem.kv_len * problem.head_dim;
  const std::int64_t grain = multiply_adds < (std::int64_t{1} << 22) ? problem.work_items() : 1;
  hfcpp::detail::parallel_for(0, problem.work_items(), grain, at::get_num_threads(), [&](std::int64_t first, std::int64_t last) {
    run_tiles(isa, problem, first, last);
  });
  return out;
}

}  // namespace detail

at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key,
                                        const at::Tensor& value, const at::Tensor& mask,
                                        const AttentionOptions& options) {
  check_arguments(query, key, value, mask);
  const auto dtype = query.scalar_type();
  const bool kernel_takes_it = query.device().is_cpu() && (dtype == at::kFloat || dtype == at::kBFloat16);
  const bool needs_autograd = c10::GradMode::is_enabled() && any_requires_grad(query, key, value, mask);
  if (!kernel_takes_it || needs_autograd || options.dropout_p > 0.0)
    return reference_attention(query, key, value, mask, options);
  return detail::fused_attention(query, key, value, mask, options, detail::best_kernel_isa());
}

std::string attention_kernel_isa() {
  switch (detail::best_kernel_isa()) {
    case detail::KernelIsa::kAvx512: return "avx512";
    case detail::KernelIsa::kAvx2: return "avx2";
    default: return "generic";
  }
}

}  // namespace hfcpp::nn
