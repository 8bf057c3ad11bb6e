#include "hfcpp/io/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>

#include "hfcpp/error.h"
#include "hfcpp/io/file_writer.h"
#include "mapped_tensor.h"

namespace hfcpp {
namespace {

using json = nlohmann::json;

[[noreturn]] void bad(std::string_view label, const std::string& what) {
  throw FormatError(std::string(label) + ": not a valid safetensors file: " + what);
}

std::uint64_t read_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses JSON rejecting duplicate keys (nlohmann keeps the last silently) and nesting deeper than
// the header schema needs, so hostile headers cannot smuggle a second definition of a tensor.
json parse_header_json(std::string_view text, std::string_view label) {
  std::vector<std::set<std::string>> keys_per_object;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > 3) bad(label, "header JSON nests deeper than a safetensors header can");
        if (event == json::parse_event_t::object_start) keys_per_object.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys_per_object.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!keys_per_object.back().insert(key).second)
          bad(label, "header has the key '" + key + "' twice");
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    bad(label, std::string("header is not valid JSON (") + e.what() + ")");
  }
}

std::uint64_t as_u64(const json& value, std::string_view label, const std::string& where) {
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0))
    bad(label, where + " must be a non-negative integer, found " + value.dump());
  return value.get<std::uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const json& info, std::string_view label) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) bad(label, where + " must be an object with dtype, shape, data_offsets");
  auto field = [&](const char* key) -> const json& {
    auto it = info.find(key);
    if (it == info.end()) bad(label, where + " has no '" + key + "'");
    return *it;
  };
  SafetensorsEntry entry;
  entry.name = name;
  const json& dtype = field("dtype");
  if (!dtype.is_string()) bad(label, where + ": dtype must be a string");
  auto parsed = dtype_from_safetensors_name(dtype.get_ref<const std::string&>());
  if (!parsed) bad(label, where + " has unknown dtype " + dtype.dump());
  entry.dtype = *parsed;

  const json& shape = field("shape");
  if (!shape.is_array()) bad(label, where + ": shape must be a list of integers");
  std::uint64_t numel = 1;
  for (const json& dim : shape) {
    const std::uint64_t d = as_u64(dim, label, where + " shape entry");
    if (d > static_cast<std::uint64_t>(INT64_MAX)) bad(label, where + ": shape entry too large");
    if (__builtin_mul_overflow(numel, d, &numel))
      bad(label, where + ": shape " + shape.dump() + " overflows 64 bits");
    entry.shape.push_back(static_cast<std::int64_t>(d));
  }
  std::uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, element_size(entry.dtype), &nbytes))
    bad(label, where + ": shape " + shape.dump() + " overflows 64 bits");

  const json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2)
    bad(label, where + ": data_offsets must be [begin, end]");
  entry.begin = as_u64(offsets[0], label, where + " data_offsets");
  entry.end = as_u64(offsets[1], label, where + " data_offsets");
  if (entry.end < entry.begin)
    bad(label, where + ": data_offsets " + offsets.dump() + " end before begin");
  if (entry.end - entry.begin != nbytes)
    bad(label, where + ": " + std::string(safetensors_name(entry.dtype)) + " " + shape.dump() +
                   " needs " + std::to_string(nbytes) + " bytes but data_offsets " +
                   offsets.dump() + " span " + std::to_string(entry.end - entry.begin));
  return entry;
}

}  // namespace

const SafetensorsEntry* SafetensorsHeader::find(std::string_view name) const {
  auto it = index.find(std::string(name));
  return it == index.end() ? nullptr : &tensors[it->second];
}

SafetensorsHeader parse_safetensors_header(const std::uint8_t* data, std::size_t size,
                                           std::string_view label) {
  if (size < 8) bad(label, "the file has " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  const std::uint64_t header_len = read_le64(data);
  if (header_len > kSafetensorsMaxHeaderSize)
    bad(label, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  if (header_len > size - 8)
    bad(label, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(data + 8), header_len);
  if (text.empty() || text.front() != '{') bad(label, "header does not start with '{'");
  // nlohmann's lexer stops at a NUL byte and would accept anything after it; JSON never has one.
  if (text.find('\0') != std::string_view::npos) bad(label, "header is not valid JSON (it contains a NUL byte)");

  const json root = parse_header_json(text, label);
  if (!root.is_object()) bad(label, "header is not a JSON object");

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad(label, "__metadata__ must be an object of strings");
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          bad(label, "__metadata__ entry '" + mkey + "' must be a string, found " + mvalue.dump());
        header.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    header.tensors.push_back(parse_entry(key, value, label));
  }

  // Offsets must tile the data buffer: sorted by begin, each starts where the previous ended.
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const auto& a, const auto& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  std::uint64_t expected = 0;
  for (std::size_t i = 0; i < header.tensors.size(); ++i) {
    const auto& entry = header.tensors[i];
    if (entry.begin != expected)
      bad(label, "tensor '" + entry.name + "' starts at byte " + std::to_string(entry.begin) +
                     " of the data buffer, expected " + std::to_string(expected) +
                     (entry.begin < expected ? " (it overlaps the previous tensor)" : " (a gap precedes it)"));
    expected = entry.end;
    header.index.emplace(entry.name, i);
  }
  const std::uint64_t data_size = size - header.data_start;
  if (expected != data_size)
    bad(label, "tensors cover " + std::to_string(expected) + " bytes but the data buffer has " +
                   std::to_string(data_size) + (expected < data_size ? " (trailing bytes)" : " (truncated file)"));
  return header;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  auto header = parse_safetensors_header(file->data(), file->size(), path.string());
  return SafetensorsFile(std::move(file), std::move(header));
}

at::Tensor SafetensorsFile::tensor(std::string_view name) const {
  const SafetensorsEntry* entry = header_.find(name);
  if (entry == nullptr)
    throw KeyError(path().string() + ": no tensor named '" + std::string(name) + "'");
  return tensor(*entry);
}

at::Tensor SafetensorsFile::tensor(const SafetensorsEntry& entry) const {
  const auto type = to_scalar_type_or_throw(entry.dtype, "tensor '" + entry.name + "' in " + path().string());
  return detail::tensor_over_mapping(file_, header_.data_start + entry.begin, entry.shape, type);
}

std::span<const std::uint8_t> SafetensorsFile::bytes(const SafetensorsEntry& entry) const {
  return {file_->data() + header_.data_start + entry.begin, entry.nbytes()};
}

SafetensorsLayout plan_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata) {
  SafetensorsLayout layout;
  std::vector<DType> dtypes;
  dtypes.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) dtypes.push_back(dtype_from_scalar_type(tensor.scalar_type()));
  layout.order.resize(tensors.size());
  std::iota(layout.order.begin(), layout.order.end(), 0);
  // The Python/Rust package: descending dtype (its alignment order), then ascending name.
  std::sort(layout.order.begin(), layout.order.end(), [&](std::size_t a, std::size_t b) {
    if (dtypes[a] != dtypes[b]) return dtypes[a] > dtypes[b];
    return tensors[a].first < tensors[b].first;
  });
  for (std::size_t i = 1; i < layout.order.size(); ++i)
    if (tensors[layout.order[i]].first == tensors[layout.order[i - 1]].first)
      throw ValueError("cannot save two tensors named '" + tensors[layout.order[i]].first + "'");

  // Compact JSON in insertion order: __metadata__ first, then tensors in file order. Built by hand
  // because the key order matters for byte identity; values are escaped by nlohmann.
  std::string text = "{";
  bool first = true;
  auto key = [&](const std::string& k) {
    if (!first) text += ',';
    first = false;
    text += json(k).dump();
    text += ':';
  };
  if (metadata) {
    key("__metadata__");
    text += '{';
    bool first_meta = true;
    for (const auto& [k, v] : *metadata) {
      if (!first_meta) text += ',';
      first_meta = false;
      text += json(k).dump() + ':' + json(v).dump();
    }
    text += '}';
  }
  std::uint64_t offset = 0;
  for (std::size_t index : layout.order) {
    const auto& [name, tensor] = tensors[index];
    const std::uint64_t nbytes = static_cast<std::uint64_t>(tensor.numel()) * element_size(dtypes[index]);
    key(name);
    text += "{\"dtype\":\"" + std::string(safetensors_name(dtypes[index])) + "\",\"shape\":[";
    for (std::int64_t d = 0; d < tensor.dim(); ++d) {
      if (d) text += ',';
      text += std::to_string(tensor.size(d));
    }
    text += "],\"data_offsets\":[" + std::to_string(offset) + ',' + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');

  std::uint64_t n = text.size();
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  layout.header = prefix + text;
  layout.data_size = offset;
  return layout;
}

void save_safetensors(const NamedTensors& tensors, const std::filesystem::path& path,
                      const SafetensorsMetadata& metadata) {
  const SafetensorsLayout layout = plan_safetensors(tensors, metadata);
  FileWriter out(path);
  out.write(layout.header.data(), layout.header.size());
  for (std::size_t index : layout.order) out.write_tensor(tensors[index].second);
  out.close();
}

NamedTensors load_safetensors(const std::filesystem::path& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  NamedTensors out;
  out.reserve(file.header().tensors.size());
  for (const auto& entry : file.header().tensors) out.emplace_back(entry.name, file.tensor(entry));
  return out;
}

}  // namespace hfcpp
