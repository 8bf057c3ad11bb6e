// Token <-> id tables shared by the models.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hfcpp::tok {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// token -> id, looked up with string_view without building a std::string.
using TokenIds = std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>;

inline std::optional<std::uint32_t> find_id(const TokenIds& ids, std::string_view token) {
  const auto it = ids.find(token);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

// id -> token: a dense array when the ids are dense (the usual case), a hash map otherwise
// (hostile files may use ids near 2^32).
class TokenTable {
 public:
  TokenTable() = default;
  explicit TokenTable(const TokenIds& ids) {
    std::uint64_t max_id = 0;
    for (const auto& [token, id] : ids) max_id = std::max<std::uint64_t>(max_id, id);
    dense_ = ids.empty() || max_id < 4 * ids.size() + 1024;
    if (dense_) {
      tokens_.resize(ids.empty() ? 0 : max_id + 1);
      present_.resize(tokens_.size(), false);
      for (const auto& [token, id] : ids) {
        tokens_[id] = token;
        present_[id] = true;
      }
    } else {
      for (const auto& [token, id] : ids) sparse_[id] = token;
    }
  }
  const std::string* find(std::uint32_t id) const {
    if (dense_) return id < tokens_.size() && present_[id] ? &tokens_[id] : nullptr;
    const auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }

 private:
  bool dense_ = true;
  std::vector<std::string> tokens_;
  std::vector<bool> present_;
  std::unordered_map<std::uint32_t, std::string> sparse_;
};

}  // namespace hfcpp::tok
