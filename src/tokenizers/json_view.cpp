#include "json_view.h"

#include <cmath>

#include "hfcpp/error.h"

namespace hfcpp::tok {

std::string describe_json(const nlohmann::json& value) {
  std::string rendering;
  if (value.is_object()) {
    rendering = "object";
  } else if (value.is_array()) {
    rendering = "array of " + std::to_string(value.size());
  } else {
    rendering = std::string(value.type_name()) + " " +
                value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (rendering.size() > 80) rendering = rendering.substr(0, 77) + "...";
  return rendering;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& file) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(file + ": not valid JSON: " + e.what());
  }
}

void JsonView::fail(const std::string& what) const {
  if (path_.empty()) throw FormatError(*file_ + ": " + what);
  throw FormatError(*file_ + ": key \"" + path_ + "\": " + what);
}

void JsonView::expected(const char* what) const {
  fail(std::string("expected ") + what + ", found " + describe_json(*value_));
}

bool JsonView::has(std::string_view key) const {
  if (!value_->is_object()) return false;
  const auto it = value_->find(key);
  return it != value_->end() && !it->is_null();
}

JsonView JsonView::operator[](std::string_view key) const {
  if (!value_->is_object()) expected("an object");
  const auto it = value_->find(key);
  const std::string child = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (it == value_->end()) JsonView(*value_, file_, child).fail("missing");
  return JsonView(*it, file_, child);
}

std::optional<JsonView> JsonView::get(std::string_view key) const {
  if (!value_->is_object()) expected("an object");
  const auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return JsonView(*it, file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

JsonView JsonView::at(std::size_t index) const {
  if (!value_->is_array()) expected("an array");
  if (index >= value_->size()) fail("index " + std::to_string(index) + " out of range");
  return JsonView((*value_)[index], file_, path_ + "[" + std::to_string(index) + "]");
}

std::size_t JsonView::size() const {
  if (!value_->is_array()) expected("an array");
  return value_->size();
}

std::string JsonView::str() const {
  if (!value_->is_string()) expected("a string");
  return value_->get<std::string>();
}

bool JsonView::boolean() const {
  if (!value_->is_boolean()) expected("a boolean");
  return value_->get<bool>();
}

double JsonView::number() const {
  if (!value_->is_number()) expected("a number");
  return value_->get<double>();
}

std::int64_t JsonView::integer() const {
  if (value_->is_number_integer()) {
    if (value_->is_number_unsigned() && value_->get<std::uint64_t>() > INT64_MAX)
      expected("an integer that fits 64 bits");
    return value_->get<std::int64_t>();
  }
  if (value_->is_number_float()) {
    const double d = value_->get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<std::int64_t>(d);
  }
  expected("an integer");
}

std::uint32_t JsonView::token_id() const {
  const std::int64_t id = integer();
  if (id < 0 || id >= static_cast<std::int64_t>(UINT32_MAX)) expected("a token id (0 .. 2^32-2)");
  return static_cast<std::uint32_t>(id);
}

std::string JsonView::str_or(std::string_view key, std::string fallback) const {
  const auto child = get(key);
  return child ? child->str() : std::move(fallback);
}

bool JsonView::bool_or(std::string_view key, bool fallback) const {
  const auto child = get(key);
  return child ? child->boolean() : fallback;
}

std::optional<std::string> JsonView::optional_str(std::string_view key) const {
  const auto child = get(key);
  if (!child) return std::nullopt;
  return child->str();
}

}  // namespace hfcpp::tok
