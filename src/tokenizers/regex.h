// A compiled PCRE2 regex in UTF + UCP mode (so \s, \w, \p{L} are Unicode-aware, as in the
// Oniguruma regexes of the Rust tokenizers), JIT-compiled when the platform allows.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace hfcpp::tok {

class Regex {
 public:
  // Throws hfcpp::ValueError with PCRE2's message when the pattern does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  const std::string& pattern() const { return pattern_; }

  // Calls on_match(start, end) for every non-overlapping match of valid UTF-8 `subject`, left to
  // right. After an empty match the search resumes at the same place refusing an empty match,
  // then one character further (Rust regex semantics). Throws hfcpp::ValueError when PCRE2 gives
  // up (match limit reached on a pathological pattern).
  void for_each_match(std::string_view subject,
                      const std::function<void(std::size_t, std::size_t)>& on_match) const;

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace hfcpp::tok
