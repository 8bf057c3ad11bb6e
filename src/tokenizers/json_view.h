// Typed, checked access to a parsed JSON document: every error names the file and the key path
// (e.g. `tokenizer.json: key "model.merges[12]": expected a string, found number 3`).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hfcpp::tok {

class JsonView {
 public:
  JsonView(const nlohmann::json& value, std::shared_ptr<const std::string> file, std::string path)
      : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

  const nlohmann::json& raw() const { return *value_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }

  bool is_null() const { return value_->is_null(); }
  bool is_string() const { return value_->is_string(); }
  bool is_array() const { return value_->is_array(); }
  bool is_object() const { return value_->is_object(); }

  // Present and not null.
  bool has(std::string_view key) const;
  // The member `key`; FormatError when this is not an object or the key is missing.
  JsonView operator[](std::string_view key) const;
  // The member `key` when present and not null.
  std::optional<JsonView> get(std::string_view key) const;
  JsonView at(std::size_t index) const;
  std::size_t size() const;  // elements of an array (FormatError otherwise)

  std::string str() const;
  bool boolean() const;
  double number() const;
  std::int64_t integer() const;
  std::uint32_t token_id() const;  // 0 .. 2^32-2

  std::string str_or(std::string_view key, std::string fallback) const;
  bool bool_or(std::string_view key, bool fallback) const;
  std::optional<std::string> optional_str(std::string_view key) const;

  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void expected(const char* what) const;

 private:
  const nlohmann::json* value_;
  std::shared_ptr<const std::string> file_;
  std::string path_;
};

// Describes a JSON value briefly for error messages: its type and a short rendering.
std::string describe_json(const nlohmann::json& value);

// Parses `text`, throwing FormatError naming `file` on a syntax error.
nlohmann::json parse_json_text(std::string_view text, const std::string& file);

}  // namespace hfcpp::tok
