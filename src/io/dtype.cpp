#include "hfcpp/dtype.h"

#include <array>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "hfcpp/error.h"

namespace hfcpp {
namespace {

struct DTypeRow {
  DType dtype;
  std::string_view name;
  std::size_t size;
  bool floating;
};

// Indexed by DType's underlying value.
constexpr std::array<DTypeRow, 15> kDTypes{{
    {DType::BOOL, "BOOL", 1, false},
    {DType::U8, "U8", 1, false},
    {DType::I8, "I8", 1, false},
    {DType::F8_E5M2, "F8_E5M2", 1, true},
    {DType::F8_E4M3, "F8_E4M3", 1, true},
    {DType::I16, "I16", 2, false},
    {DType::U16, "U16", 2, false},
    {DType::F16, "F16", 2, true},
    {DType::BF16, "BF16", 2, true},
    {DType::I32, "I32", 4, false},
    {DType::U32, "U32", 4, false},
    {DType::F32, "F32", 4, true},
    {DType::F64, "F64", 8, true},
    {DType::I64, "I64", 8, false},
    {DType::U64, "U64", 8, false},
}};

const DTypeRow& row(DType dtype) { return kDTypes[static_cast<std::size_t>(dtype)]; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

std::size_t element_size(DType dtype) { return row(dtype).size; }
std::string_view safetensors_name(DType dtype) { return row(dtype).name; }
bool is_floating_point(DType dtype) { return row(dtype).floating; }

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& r : kDTypes)
    if (r.name == name) return r.dtype;
  return std::nullopt;
}

std::optional<c10::ScalarType> to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::BOOL: return c10::ScalarType::Bool;
    case DType::U8: return c10::ScalarType::Byte;
    case DType::I8: return c10::ScalarType::Char;
    case DType::I16: return c10::ScalarType::Short;
    case DType::F16: return c10::ScalarType::Half;
    case DType::BF16: return c10::ScalarType::BFloat16;
    case DType::I32: return c10::ScalarType::Int;
    case DType::F32: return c10::ScalarType::Float;
    case DType::F64: return c10::ScalarType::Double;
    case DType::I64: return c10::ScalarType::Long;
    default: return std::nullopt;
  }
}

c10::ScalarType to_scalar_type_or_throw(DType dtype, std::string_view what) {
  if (auto type = to_scalar_type(dtype)) return *type;
  throw UnsupportedError(std::string(what) + " has dtype " + std::string(safetensors_name(dtype)) +
                         ", which this libtorch cannot compute with; it can only be copied as raw "
                         "bytes (hfcpp convert keeps it unchanged)");
}

DType dtype_from_scalar_type(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Bool: return DType::BOOL;
    case c10::ScalarType::Byte: return DType::U8;
    case c10::ScalarType::Char: return DType::I8;
    case c10::ScalarType::Short: return DType::I16;
    case c10::ScalarType::Half: return DType::F16;
    case c10::ScalarType::BFloat16: return DType::BF16;
    case c10::ScalarType::Int: return DType::I32;
    case c10::ScalarType::Float: return DType::F32;
    case c10::ScalarType::Double: return DType::F64;
    case c10::ScalarType::Long: return DType::I64;
    default:
      throw UnsupportedError(std::string("tensors of dtype ") + c10::toString(type) +
                             " cannot be stored in a checkpoint");
  }
}

c10::ScalarType parse_torch_dtype(std::string_view name) {
  std::string key = lower(trim(name));
  if (key.rfind("torch.", 0) == 0) key.erase(0, 6);
  struct Alias {
    std::string_view name;
    c10::ScalarType type;
  };
  static constexpr Alias kAliases[] = {
      {"float32", c10::ScalarType::Float},   {"float", c10::ScalarType::Float},
      {"fp32", c10::ScalarType::Float},      {"f32", c10::ScalarType::Float},
      {"bfloat16", c10::ScalarType::BFloat16}, {"bf16", c10::ScalarType::BFloat16},
      {"float16", c10::ScalarType::Half},    {"half", c10::ScalarType::Half},
      {"fp16", c10::ScalarType::Half},       {"f16", c10::ScalarType::Half},
      {"float64", c10::ScalarType::Double},  {"double", c10::ScalarType::Double},
      {"fp64", c10::ScalarType::Double},     {"f64", c10::ScalarType::Double},
      {"int64", c10::ScalarType::Long},      {"long", c10::ScalarType::Long},
      {"int32", c10::ScalarType::Int},       {"int", c10::ScalarType::Int},
      {"int16", c10::ScalarType::Short},     {"short", c10::ScalarType::Short},
      {"int8", c10::ScalarType::Char},       {"uint8", c10::ScalarType::Byte},
      {"bool", c10::ScalarType::Bool},
  };
  for (const auto& alias : kAliases)
    if (alias.name == key) return alias.type;
  throw ValueError("unknown dtype '" + std::string(name) +
                   "': expected one of float32, bfloat16, float16, float64, int64, int32, int16, "
                   "int8, uint8, bool (optionally prefixed with 'torch.')");
}

std::string torch_dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Short: return "int16";
    case c10::ScalarType::Char: return "int8";
    case c10::ScalarType::Byte: return "uint8";
    case c10::ScalarType::Bool: return "bool";
    default: return c10::toString(type);
  }
}

double dtype_byte_size(c10::ScalarType type) {
  if (type == c10::ScalarType::Bool) return 1.0 / 8.0;
  return static_cast<double>(c10::elementSize(type));
}

std::uint64_t parse_size(std::string_view text) {
  const std::string original(text);
  std::string_view body = trim(text);
  auto fail = [&](const std::string& why) -> std::uint64_t {
    throw ValueError("cannot parse size '" + original + "': " + why +
                     " (examples: \"5GB\" = 5*10^9 bytes, \"500MB\", \"2GiB\" = 2*2^30, \"20000\")");
  };
  if (body.empty()) fail("it is empty");

  // A plain byte count.
  std::uint64_t plain = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), plain);
  if (ec == std::errc() && end == body.data() + body.size()) return plain;

  struct Unit {
    std::string_view suffix;
    double multiplier;
  };
  static constexpr Unit kUnits[] = {
      {"tib", 1099511627776.0}, {"gib", 1073741824.0}, {"mib", 1048576.0}, {"kib", 1024.0},
      {"tb", 1e12},             {"gb", 1e9},           {"mb", 1e6},        {"kb", 1e3},
  };
  const std::string lowered = lower(body);
  for (const auto& unit : kUnits) {
    if (lowered.size() <= unit.suffix.size() ||
        lowered.compare(lowered.size() - unit.suffix.size(), unit.suffix.size(), unit.suffix) != 0)
      continue;
    std::string number(trim(std::string_view(lowered).substr(0, lowered.size() - unit.suffix.size())));
    char* parse_end = nullptr;
    errno = 0;
    const double value = std::strtod(number.c_str(), &parse_end);
    if (number.empty() || parse_end != number.c_str() + number.size() || errno != 0 ||
        !std::isfinite(value) || value < 0)
      fail("'" + number + "' is not a non-negative number");
    // Python truncates value * multiplier with int(); do the same.
    const double bytes = value * unit.multiplier;
    if (bytes >= static_cast<double>(std::numeric_limits<std::uint64_t>::max())) fail("too large");
    return static_cast<std::uint64_t>(bytes);
  }
  return fail("unknown unit; use KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB (binary)");
}

}  // namespace hfcpp
