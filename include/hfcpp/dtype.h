// Element types: the names checkpoint files use (safetensors "F32", torch "float32"), how they map
// to libtorch, and the size arithmetic Transformers does with them.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hfcpp {

// Element types a checkpoint file can hold. Declared in safetensors' alignment order (its writer
// sorts tensors by this order, descending), so `<` on DType is the order files are laid out in.
// F8 and the unsigned 16/32/64-bit types have no libtorch 1.13 counterpart: they are carried as
// raw bytes and refused where a computation would need them.
enum class DType : std::uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
};

std::size_t element_size(DType dtype);
std::string_view safetensors_name(DType dtype);
std::optional<DType> dtype_from_safetensors_name(std::string_view name);
bool is_floating_point(DType dtype);

// The libtorch type of `dtype`, or nullopt when this libtorch has none (F8, U16, U32, U64).
std::optional<c10::ScalarType> to_scalar_type(DType dtype);
// Throws UnsupportedError naming `what` (e.g. "tensor 'w' in model.safetensors").
c10::ScalarType to_scalar_type_or_throw(DType dtype, std::string_view what);
// Throws UnsupportedError for types no checkpoint format stores (complex, quantized).
DType dtype_from_scalar_type(c10::ScalarType type);

// Accepts what users and config.json write: "float32", "torch.float32", "float", "fp32", "f32",
// "bfloat16", "bf16", "float16", "half", "fp16", "float64", "double", "int64", "long", "int32",
// "int", "int16", "short", "int8", "uint8", "bool". Throws ValueError for anything else.
c10::ScalarType parse_torch_dtype(std::string_view name);
// The name Transformers writes in config.json's torch_dtype: "float32", "bfloat16", ...
std::string torch_dtype_name(c10::ScalarType type);

// Bytes per element the way Transformers' dtype_byte_size counts them: bool is 1/8 byte.
double dtype_byte_size(c10::ScalarType type);

// A size for max_shard_size and friends. Decimal units as huggingface_hub parses them for
// save_pretrained ("5GB" = 5 * 10^9, "20 kb", "0.02MB"), binary units that Python rejects but
// users mean ("5GiB" = 5 * 2^30), and plain byte counts ("20000"). Throws ValueError.
std::uint64_t parse_size(std::string_view text);

}  // namespace hfcpp
