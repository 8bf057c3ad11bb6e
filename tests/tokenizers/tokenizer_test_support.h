// Helpers shared by the tokenizer tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hfcpp/tokenizers/auto_tokenizer.h"
#include "hfcpp/tokenizers/tokenizer.h"
#include "test_support.h"

namespace hfcpp::testing {

inline std::filesystem::path tokenizer_data(const std::string& relative) {
  return data_path("tokenizers/" + relative);
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  return nlohmann::json::parse(read_file(path));
}

inline std::vector<std::int64_t> ids_of(const nlohmann::json& list) {
  return list.get<std::vector<std::int64_t>>();
}

// A Tokenizer from an inline tokenizer.json.
inline Tokenizer tokenizer_from(const nlohmann::json& json) {
  return Tokenizer::from_json_string(json.dump(), "inline tokenizer.json");
}

}  // namespace hfcpp::testing
