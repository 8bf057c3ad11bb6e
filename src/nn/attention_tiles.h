// The fused attention kernel for W float lanes, included once by each attention_kernel_<isa>.cpp
// (with HFCPP_KERNEL_TARGET set to its instruction set). Everything has internal linkage, so each
// of those files compiles its own copy with its own instructions and none leaks into another.
//
// A work item is (batch, kv head, tile of up to kRowTile query rows); it streams over key tiles
// of kKeyTile keys with an online softmax, keeping per row only the running max, the running
// sum and a float32 accumulator [rows, D]. Two layouts of the score tile:
//  - rows in lanes (many rows, prefill): scores[key][row]. q^T is packed once per work item,
//    keys are broadcast from their rows as they are, softmax runs lane-wise over rows;
//  - keys in lanes (few rows, decode): scores[row][key], dot products along D, softmax over keys.
#pragma once

// Every header the kernel uses comes first, outside the instruction-set region: an inline
// function compiled inside it could otherwise be the copy the linker keeps for the whole program.
#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "attention_kernel.h"

// HFCPP_KERNEL_TARGET (e.g. "avx2,fma"), when defined, is the instruction set of all that follows.
#if defined(HFCPP_KERNEL_TARGET)
#define HFCPP_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define HFCPP_BEGIN_TARGET(isa) HFCPP_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define HFCPP_END_TARGET() HFCPP_PRAGMA(clang attribute pop)
#else
#define HFCPP_BEGIN_TARGET(isa) HFCPP_PRAGMA(GCC push_options) HFCPP_PRAGMA(GCC target(isa))
#define HFCPP_END_TARGET() HFCPP_PRAGMA(GCC pop_options)
#endif
HFCPP_BEGIN_TARGET(HFCPP_KERNEL_TARGET)
#endif

#include "attention_simd.h"

namespace hfcpp::nn::detail {
namespace {

// Rows of a key or value tile: the input itself (float32 or bfloat16) or a float32 copy in scratch.
template <typename E>
struct Rows {
  const E* data;
  std::int64_t stride;
  const E* row(std::int64_t i) const { return data + i * stride; }
};

template <int W, typename T>
class AttentionTiles {
 public:
  explicit AttentionTiles(const AttentionProblem& problem)
      : p_(problem),
        dim_(problem.head_dim),
        padded_dim_((problem.head_dim + W - 1) / W * W),
        scratch_(static_cast<std::size_t>(kRowTile * padded_dim_ * 2 + kKeyTile * padded_dim_ * 2 +
                                          kKeyTile * kRowTile + kRowTile * 3)) {
    float* next = scratch_.data();
    auto take = [&next](std::int64_t count) { float* part = next; next += count; return part; };
    queries_ = take(kRowTile * padded_dim_);
    accumulator_ = take(kRowTile * padded_dim_);
    key_block_ = take(kKeyTile * padded_dim_);
    value_block_ = take(kKeyTile * padded_dim_);
    scores_ = take(kKeyTile * kRowTile);
    row_max_ = take(kRowTile);
    row_sum_ = take(kRowTile);
    correction_ = take(kRowTile);
  }

  void run(std::int64_t item) {
    const std::int64_t tiles = p_.row_tiles();
    const std::int64_t batch = item / (p_.kv_heads * tiles);
    const std::int64_t kv_head = item / tiles % p_.kv_heads;
    const std::int64_t first_row = item % tiles * kRowTile;
    rows_ = std::min(kRowTile, p_.rows_per_kv_head() - first_row);
    rows_in_lanes_ = rows_ >= W;
    lane_rows_ = (rows_ + W - 1) / W * W;
    describe_rows(batch, kv_head, first_row);
    load_queries(batch);
    std::fill(accumulator_, accumulator_ + kRowTile * padded_dim_, 0.0f);
    std::fill(row_max_, row_max_ + kRowTile, kMinusInf);
    std::fill(row_sum_, row_sum_ + kRowTile, 0.0f);

    keys_ = static_cast<const T*>(p_.key) + batch * p_.key_strides[0] + kv_head * p_.key_strides[1];
    values_ = static_cast<const T*>(p_.value) + batch * p_.value_strides[0] + kv_head * p_.value_strides[1];
    // Keys after the last row's causal limit are excluded for every row of the tile: skip them.
    const std::int64_t key_end =
        p_.causal ? std::clamp<std::int64_t>(row_limit_[rows_ - 1] + 1, 0, p_.kv_len) : p_.kv_len;
    for (std::int64_t first_key = 0; first_key < key_end; first_key += kKeyTile)
      attend_key_tile(first_key, std::min(kKeyTile, key_end - first_key));
    add_skipped_keys(key_end);
    write_rows(batch);
  }

 private:
  void describe_rows(std::int64_t batch, std::int64_t kv_head, std::int64_t first_row) {
    const std::int64_t group = p_.group();
    for (std::int64_t r = 0; r < rows_; ++r) {
      const std::int64_t position = (first_row + r) / group;
      const std::int64_t head = kv_head * group + (first_row + r) % group;
      row_position_[r] = position;
      row_head_[r] = head;
      // Causal: query `position` sees keys up to position + (Lk - Lq), the end-aligned diagonal.
      row_limit_[r] = static_cast<std::int32_t>(p_.causal ? position + p_.kv_len - p_.query_len
                                                          : p_.kv_len - 1);
      mask_offset_[r] = batch * p_.mask_strides[0] + head * p_.mask_strides[1] +
                        position * p_.mask_strides[2];
    }
    for (std::int64_t r = rows_; r < lane_rows_; ++r) row_limit_[r] = row_limit_[rows_ - 1];
  }

  const T* query_row(std::int64_t batch, std::int64_t r) const {
    return static_cast<const T*>(p_.query) + batch * p_.query_strides[0] +
           row_head_[r] * p_.query_strides[1] + row_position_[r] * p_.query_strides[2];
  }

  // Scaled queries: transposed [D][kRowTile] when rows are in lanes, else [rows][padded D].
  void load_queries(std::int64_t batch) {
    if (rows_in_lanes_) {
      std::fill(queries_, queries_ + dim_ * kRowTile, 0.0f);
      for (std::int64_t r = 0; r < rows_; ++r) {
        const T* q = query_row(batch, r);
        for (std::int64_t d = 0; d < dim_; ++d) queries_[d * kRowTile + r] = to_float(q[d]) * p_.scale;
      }
    } else {
      for (std::int64_t r = 0; r < rows_; ++r) {
        const T* q = query_row(batch, r);
        float* row = queries_ + r * padded_dim_;
        for (std::int64_t d = 0; d < dim_; ++d) row[d] = to_float(q[d]) * p_.scale;
        std::fill(row + dim_, row + padded_dim_, 0.0f);
      }
    }
  }

  // float32 rows of `count` keys or values from `first`; padded to whole vectors when asked.
  Rows<float> float_rows(const T* base, std::int64_t stride, std::int64_t first, std::int64_t count,
                         bool padded, float* block) const {
    if constexpr (std::is_same_v<T, float>) {
      if (!padded || dim_ == padded_dim_) return {base + first * stride, stride};
    }
    for (std::int64_t i = 0; i < count; ++i) {
      const T* source = base + (first + i) * stride;
      float* row = block + i * padded_dim_;
      std::int64_t d = 0;
      if constexpr (std::is_same_v<T, c10::BFloat16>) {
        for (; d + W <= dim_; d += W) store<W>(row + d, load_bf16<W>(source + d));
      }
      for (; d < dim_; ++d) row[d] = to_float(source[d]);
      std::fill(row + dim_, row + padded_dim_, 0.0f);
    }
    return {block, padded_dim_};
  }

  void attend_key_tile(std::int64_t first_key, std::int64_t count) {
    const std::int64_t key_stride = p_.key_strides[2], value_stride = p_.value_strides[2];
    if (rows_in_lanes_) {
      // Many rows: tiles converted once to float32 cost little next to the rows x keys x D work.
      const Rows<float> keys = float_rows(keys_, key_stride, first_key, count, /*padded=*/false, key_block_);
      const Rows<float> values = float_rows(values_, value_stride, first_key, count, /*padded=*/true, value_block_);
      scores_rows_in_lanes(keys, count);
      if (p_.mask_kind != MaskKind::kNone) mask_rows_in_lanes(first_key, count);
      if (p_.causal) causal_rows_in_lanes(first_key, count);
      softmax_rows_in_lanes(count);
      accumulate_values(values, count, /*row_step=*/1, /*key_step=*/kRowTile);
    } else if (dim_ == padded_dim_) {
      // Few rows (decode): every key is read about once, so read the inputs where they are.
      attend_keys_in_lanes(Rows<T>{keys_ + first_key * key_stride, key_stride},
                           Rows<T>{values_ + first_key * value_stride, value_stride}, first_key, count);
    } else {
      attend_keys_in_lanes(float_rows(keys_, key_stride, first_key, count, /*padded=*/true, key_block_),
                           float_rows(values_, value_stride, first_key, count, /*padded=*/true, value_block_),
                           first_key, count);
    }
  }

  template <typename E>
  void attend_keys_in_lanes(const Rows<E>& keys, const Rows<E>& values, std::int64_t first_key, std::int64_t count) {
    scores_keys_in_lanes(keys, count);
    if (p_.mask_kind != MaskKind::kNone) mask_keys_in_lanes(first_key, count);
    if (p_.causal) causal_keys_in_lanes(first_key, count);
    softmax_keys_in_lanes(count);
    accumulate_values(values, count, /*row_step=*/kKeyTile, /*key_step=*/1);
  }

  // ---- rows in lanes: scores_[key * kRowTile + row]

  // KEYS keys x VECS row vectors: per d, broadcast each key's element against q^T's row vectors.
  template <int KEYS, int VECS>
  HFCPP_ALWAYS_INLINE void score_block_rows_in_lanes(const Rows<float>& keys, std::int64_t key,
                                                     std::int64_t vec) {
    FloatVec<W> acc[KEYS][VECS] = {};
    const float* key_rows[KEYS];
    for (int k = 0; k < KEYS; ++k) key_rows[k] = keys.row(key + k);
    for (std::int64_t d = 0; d < dim_; ++d) {
      FloatVec<W> q[VECS];
      for (int v = 0; v < VECS; ++v) q[v] = load<W>(queries_ + d * kRowTile + (vec + v) * W);
      for (int k = 0; k < KEYS; ++k) {
        const FloatVec<W> key_value = broadcast<W>(key_rows[k][d]);
        for (int v = 0; v < VECS; ++v) acc[k][v] += key_value * q[v];
      }
    }
    for (int k = 0; k < KEYS; ++k)
      for (int v = 0; v < VECS; ++v) store<W>(scores_ + (key + k) * kRowTile + (vec + v) * W, acc[k][v]);
  }

  template <int KEYS>
  void score_keys_rows_in_lanes(const Rows<float>& keys, std::int64_t key) {
    constexpr int kVecs = W == 16 ? 4 : 2;
    const std::int64_t vecs = lane_rows_ / W;
    std::int64_t vec = 0;
    for (; vec + kVecs <= vecs; vec += kVecs) score_block_rows_in_lanes<KEYS, kVecs>(keys, key, vec);
    for (; vec < vecs; ++vec) score_block_rows_in_lanes<KEYS, 1>(keys, key, vec);
  }

  void scores_rows_in_lanes(const Rows<float>& keys, std::int64_t count) {
    std::int64_t key = 0;
    for (; key + 4 <= count; key += 4) score_keys_rows_in_lanes<4>(keys, key);
    for (; key < count; ++key) score_keys_rows_in_lanes<1>(keys, key);
  }

  void mask_rows_in_lanes(std::int64_t first_key, std::int64_t count) {
    std::int64_t previous_offset = -1;
    bool previous_matters = false;
    for (std::int64_t r = 0; r < rows_; ++r) {
      // Rows often share a mask row (padding masks, the heads of a group): test it once.
      const std::int64_t offset = mask_offset_[r] + first_key * p_.mask_strides[3];
      const bool matters = offset == previous_offset ? previous_matters : mask_matters(offset, count);
      previous_offset = offset;
      previous_matters = matters;
      if (!matters) continue;
      const std::int64_t step = p_.mask_strides[3];
      if (p_.mask_kind == MaskKind::kAdditive) {
        const float* mask = static_cast<const float*>(p_.mask) + offset;
        for (std::int64_t k = 0; k < count; ++k) scores_[k * kRowTile + r] += mask[k * step];
      } else {
        const bool* keep = static_cast<const bool*>(p_.mask) + offset;
        for (std::int64_t k = 0; k < count; ++k)
          if (!keep[k * step]) scores_[k * kRowTile + r] = kLowest;
      }
    }
  }

  void causal_rows_in_lanes(std::int64_t first_key, std::int64_t count) {
    // Rows are in position order, so row 0 has the smallest limit.
    const std::int64_t first_excluded = std::max<std::int64_t>(0, row_limit_[0] + 1 - first_key);
    for (std::int64_t k = first_excluded; k < count; ++k) {
      const auto key = static_cast<std::int32_t>(first_key + k);
      for (std::int64_t vec = 0; vec < lane_rows_; vec += W) {
        float* s = scores_ + k * kRowTile + vec;
        const IntVec<W> limit = load_int<W>(row_limit_ + vec);
        store<W>(s, limit < key ? broadcast<W>(kLowest) : load<W>(s));
      }
    }
  }

  void softmax_rows_in_lanes(std::int64_t count) {
    for (std::int64_t vec = 0; vec < lane_rows_; vec += W) {
      const FloatVec<W> old_max = load<W>(row_max_ + vec);
      FloatVec<W> new_max = old_max;
      for (std::int64_t k = 0; k < count; ++k) new_max = max<W>(new_max, load<W>(scores_ + k * kRowTile + vec));
      // A row with only -inf so far subtracts 0 instead: every e^x is then 0, never NaN.
      const FloatVec<W> base = new_max == kMinusInf ? FloatVec<W>{} : new_max;
      FloatVec<W> sum = {};
      for (std::int64_t k = 0; k < count; ++k) {
        float* s = scores_ + k * kRowTile + vec;
        const FloatVec<W> weight = exp_nonpositive<W>(load<W>(s) - base);
        store<W>(s, weight);
        sum += weight;
      }
      const FloatVec<W> correction = exp_nonpositive<W>(old_max - base);
      store<W>(correction_ + vec, correction);
      store<W>(row_sum_ + vec, load<W>(row_sum_ + vec) * correction + sum);
      store<W>(row_max_ + vec, new_max);
    }
  }

  // ---- keys in lanes: scores_[row * kKeyTile + key]

  // Scores of W keys at once: W dot products along D, finished by one transposing reduction.
  template <typename E>
  HFCPP_ALWAYS_INLINE void dot_key_block(const float* query, const Rows<E>& keys, std::int64_t key, float* out) {
    FloatVec<W> acc[W] = {};
    for (std::int64_t d = 0; d < padded_dim_; d += W) {
      const FloatVec<W> q = load<W>(query + d);
      for (int k = 0; k < W; ++k) acc[k] += q * load_lanes<W>(keys.row(key + k) + d);
    }
    store<W>(out + key, sum_lanes_of_each<W>(acc));
  }

  template <typename E>
  HFCPP_ALWAYS_INLINE void dot_key(const float* query, const Rows<E>& keys, std::int64_t key, float* out) {
    FloatVec<W> acc = {};
    for (std::int64_t d = 0; d < padded_dim_; d += W) acc += load<W>(query + d) * load_lanes<W>(keys.row(key) + d);
    out[key] = sum_lanes<W>(acc);
  }

  template <typename E>
  void scores_keys_in_lanes(const Rows<E>& keys, std::int64_t count) {
    const std::int64_t padded_count = (count + W - 1) / W * W;
    for (std::int64_t r = 0; r < rows_; ++r) {
      const float* query = queries_ + r * padded_dim_;
      float* s = scores_ + r * kKeyTile;
      std::int64_t key = 0;
      for (; key + W <= count; key += W) dot_key_block(query, keys, key, s);
      for (; key < count; ++key) dot_key(query, keys, key, s);
      std::fill(s + count, s + padded_count, kMinusInf);  // lanes past the tile weigh 0
    }
  }

  void mask_keys_in_lanes(std::int64_t first_key, std::int64_t count) {
    const std::int64_t step = p_.mask_strides[3];
    for (std::int64_t r = 0; r < rows_; ++r) {
      float* s = scores_ + r * kKeyTile;
      const std::int64_t offset = mask_offset_[r] + first_key * step;
      if (p_.mask_kind == MaskKind::kAdditive) {
        const float* mask = static_cast<const float*>(p_.mask) + offset;
        std::int64_t k = 0;
        if (step == 1)
          for (; k + W <= count; k += W) store<W>(s + k, load<W>(s + k) + load<W>(mask + k));
        for (; k < count; ++k) s[k] += mask[k * step];
      } else {
        const bool* keep = static_cast<const bool*>(p_.mask) + offset;
        for (std::int64_t k = 0; k < count; ++k)
          if (!keep[k * step]) s[k] = kLowest;
      }
    }
  }

  void causal_keys_in_lanes(std::int64_t first_key, std::int64_t count) {
    for (std::int64_t r = 0; r < rows_; ++r) {
      const std::int64_t first_excluded = std::max<std::int64_t>(0, row_limit_[r] + 1 - first_key);
      if (first_excluded < count) std::fill(scores_ + r * kKeyTile + first_excluded, scores_ + r * kKeyTile + count, kLowest);
    }
  }

  void softmax_keys_in_lanes(std::int64_t count) {
    const std::int64_t padded_count = (count + W - 1) / W * W;
    for (std::int64_t r = 0; r < rows_; ++r) {
      float* s = scores_ + r * kKeyTile;
      FloatVec<W> tile_max = broadcast<W>(kMinusInf);
      for (std::int64_t k = 0; k < padded_count; k += W) tile_max = max<W>(tile_max, load<W>(s + k));
      const float new_max = std::max(row_max_[r], max_lanes<W>(tile_max));
      const float base = new_max == kMinusInf ? 0.0f : new_max;  // as in softmax_rows_in_lanes
      FloatVec<W> sum = {};
      for (std::int64_t k = 0; k < padded_count; k += W) {
        const FloatVec<W> weight = exp_nonpositive<W>(load<W>(s + k) - base);
        store<W>(s + k, weight);
        sum += weight;
      }
      const float correction = std::exp(row_max_[r] - base);
      correction_[r] = correction;
      row_sum_[r] = row_sum_[r] * correction + sum_lanes<W>(sum);
      row_max_[r] = new_max;
    }
  }

  // ---- both layouts: accumulator[row] = accumulator[row] * correction[row] + sum_k P[row, k] V[k]

  template <int ROWS, int VECS, typename E>
  HFCPP_ALWAYS_INLINE void value_block(const Rows<E>& values, std::int64_t count, std::int64_t row,
                                       std::int64_t d, std::int64_t row_step, std::int64_t key_step) {
    FloatVec<W> acc[ROWS][VECS];
    for (int r = 0; r < ROWS; ++r) {
      const FloatVec<W> correction = broadcast<W>(correction_[row + r]);
      for (int v = 0; v < VECS; ++v)
        acc[r][v] = load<W>(accumulator_ + (row + r) * padded_dim_ + d + v * W) * correction;
    }
    const float* weights = scores_ + row * row_step;
    for (std::int64_t k = 0; k < count; ++k) {
      FloatVec<W> value[VECS];
      for (int v = 0; v < VECS; ++v) value[v] = load_lanes<W>(values.row(k) + d + v * W);
      for (int r = 0; r < ROWS; ++r) {
        const FloatVec<W> weight = broadcast<W>(weights[r * row_step + k * key_step]);
        for (int v = 0; v < VECS; ++v) acc[r][v] += weight * value[v];
      }
    }
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < VECS; ++v) store<W>(accumulator_ + (row + r) * padded_dim_ + d + v * W, acc[r][v]);
  }

  template <int ROWS, typename E>
  void value_rows(const Rows<E>& values, std::int64_t count, std::int64_t row, std::int64_t row_step,
                  std::int64_t key_step) {
    constexpr int kVecs = W == 16 ? 4 : 2;
    std::int64_t d = 0;
    for (; d + kVecs * W <= padded_dim_; d += kVecs * W)
      value_block<ROWS, kVecs>(values, count, row, d, row_step, key_step);
    for (; d < padded_dim_; d += W) value_block<ROWS, 1>(values, count, row, d, row_step, key_step);
  }

  template <typename E>
  void accumulate_values(const Rows<E>& values, std::int64_t count, std::int64_t row_step,
                         std::int64_t key_step) {
    std::int64_t row = 0;
    for (; row + 4 <= rows_; row += 4) value_rows<4>(values, count, row, row_step, key_step);
    for (; row < rows_; ++row) value_rows<1>(values, count, row, row_step, key_step);
  }

  // ---- finishing

  // A row whose best score is finfo.min (or -inf) is fully masked: the reference gives the keys
  // skipped as causal (score finfo.min) the same weight as its finfo.min keys, so add them back.
  void add_skipped_keys(std::int64_t key_end) {
    if (key_end >= p_.kv_len) return;
    for (std::int64_t r = 0; r < rows_; ++r) {
      if (row_max_[r] > kLowest) continue;
      float* acc = accumulator_ + r * padded_dim_;
      for (std::int64_t key = key_end; key < p_.kv_len; ++key) {
        const T* value = values_ + key * p_.value_strides[2];
        for (std::int64_t d = 0; d < dim_; ++d) acc[d] += to_float(value[d]);
      }
      row_sum_[r] += static_cast<float>(p_.kv_len - key_end);
    }
  }

  void write_rows(std::int64_t batch) {
    T* out = static_cast<T*>(p_.out);
    for (std::int64_t r = 0; r < rows_; ++r) {
      // A zero sum means every score was -inf: the row attends to nothing and is 0.
      const float inverse = row_sum_[r] > 0.0f ? 1.0f / row_sum_[r] : 0.0f;
      T* row = out + ((batch * p_.query_heads + row_head_[r]) * p_.query_len + row_position_[r]) * dim_;
      const float* acc = accumulator_ + r * padded_dim_;
      for (std::int64_t d = 0; d < dim_; ++d) row[d] = static_cast<T>(acc[d] * inverse);
    }
  }

  // Whether the mask has any effect on `count` keys at `offset` (any nonzero / any false).
  bool mask_matters(std::int64_t offset, std::int64_t count) const {
    const std::int64_t step = p_.mask_strides[3];
    const std::int64_t n = step == 0 ? 1 : count;
    if (p_.mask_kind == MaskKind::kAdditive) {
      const float* mask = static_cast<const float*>(p_.mask) + offset;
      if (step <= 1) {
        IntVec<W> nonzero = {};
        std::int64_t k = 0;
        for (; k + W <= n; k += W) nonzero |= load<W>(mask + k) != 0.0f;
        for (int lane = 0; lane < W; ++lane)
          if (nonzero[lane]) return true;
        for (; k < n; ++k)
          if (mask[k] != 0.0f) return true;
        return false;
      }
      for (std::int64_t k = 0; k < n; ++k)
        if (mask[k * step] != 0.0f) return true;
      return false;
    }
    const bool* keep = static_cast<const bool*>(p_.mask) + offset;
    for (std::int64_t k = 0; k < n; ++k)
      if (!keep[k * step]) return true;
    return false;
  }

  const AttentionProblem& p_;
  const std::int64_t dim_, padded_dim_;
  std::vector<float> scratch_;
  float* queries_ = nullptr;      // see load_queries
  float* accumulator_ = nullptr;  // [kRowTile][padded D]
  float* key_block_ = nullptr;    // converted keys [kKeyTile][padded D]
  float* value_block_ = nullptr;  // converted values [kKeyTile][padded D]
  float* scores_ = nullptr;       // [kKeyTile][kRowTile] or [kRowTile][kKeyTile], then weights
  float* row_max_ = nullptr;      // running max of each row's scores
  float* row_sum_ = nullptr;      // running sum of e^(score - row max)
  float* correction_ = nullptr;   // e^(old max - new max) of the current key tile

  std::int64_t rows_ = 0, lane_rows_ = 0;
  bool rows_in_lanes_ = false;
  const T* keys_ = nullptr;
  const T* values_ = nullptr;
  std::int64_t row_position_[kRowTile] = {};
  std::int64_t row_head_[kRowTile] = {};
  std::int64_t mask_offset_[kRowTile] = {};
  std::int32_t row_limit_[kRowTile] = {};  // last key each row may see
};

template <int W>
void run_attention_tiles(const AttentionProblem& problem, std::int64_t first, std::int64_t last) {
  if (problem.element_type == ElementType::kBFloat16) {
    AttentionTiles<W, c10::BFloat16> tiles(problem);
    for (std::int64_t item = first; item < last; ++item) tiles.run(item);
  } else {
    AttentionTiles<W, float> tiles(problem);
    for (std::int64_t item = first; item < last; ++item) tiles.run(item);
  }
}

}  // namespace
}  // namespace hfcpp::nn::detail

#if defined(HFCPP_KERNEL_TARGET)
HFCPP_END_TARGET()
#endif
