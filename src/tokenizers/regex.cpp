#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>

#include "hfcpp/error.h"
#include "unicode.h"

namespace hfcpp::tok {

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  bool jit = false;
  ~Compiled() {
    if (context) pcre2_match_context_free(context);
    if (code) pcre2_code_free(code);
  }
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

// Frees the per-call match data even when on_match throws.
struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code) : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    if (!data) throw std::bad_alloc();
  }
  ~MatchData() { pcre2_match_data_free(data); }
};

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern), compiled_(std::make_unique<Compiled>()) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (!compiled_->code)
    throw ValueError("invalid regex \"" + pattern + "\" at offset " + std::to_string(error_offset) +
                     ": " + pcre2_message(error));
  compiled_->jit = pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) == 0;
  // Bound the work a hostile pattern can make a match do (catastrophic backtracking).
  compiled_->context = pcre2_match_context_create(nullptr);
  if (!compiled_->context) throw std::bad_alloc();
  pcre2_set_match_limit(compiled_->context, 50'000'000);
  pcre2_set_depth_limit(compiled_->context, 100'000);
}

Regex::~Regex() = default;

void Regex::for_each_match(std::string_view subject,
                           const std::function<void(std::size_t, std::size_t)>& on_match) const {
  MatchData match(compiled_->code);
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  std::size_t pos = 0;
  uint32_t extra_options = 0;
  while (pos <= subject.size()) {
    int rc;
    const uint32_t options = PCRE2_NO_UTF_CHECK | extra_options;
    if (compiled_->jit && extra_options == 0) {
      rc = pcre2_jit_match(compiled_->code, text, subject.size(), pos, options, match.data,
                           compiled_->context);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(compiled_->code, text, subject.size(), pos, options | PCRE2_NO_JIT,
                         match.data, compiled_->context);
    } else {
      rc = pcre2_match(compiled_->code, text, subject.size(), pos, options, match.data,
                       compiled_->context);
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (extra_options == 0) return;
      // No non-empty match where the empty one was: move one character on.
      extra_options = 0;
      if (pos >= subject.size()) return;
      pos += utf8_length(static_cast<unsigned char>(subject[pos]));
      continue;
    }
    if (rc < 0)
      throw ValueError("regex \"" + pattern_ + "\" failed on the input: " + pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.data);
    const std::size_t start = ovector[0], end = ovector[1];
    // \K can report a match ending before it starts; treat it as empty.
    if (end < start || end > subject.size()) return;
    on_match(start, end);
    if (end == start) {
      extra_options = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
      pos = end;
    } else {
      extra_options = 0;
      pos = end;
    }
  }
}

}  // namespace hfcpp::tok
