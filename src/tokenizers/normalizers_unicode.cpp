// NFC / NFD / NFKC / NFKD through utf8proc, keeping alignments.
//
// utf8proc normalizes a whole string without telling which output came from which input, so the
// text is cut into runs that normalize independently: a run starts at a character of combining
// class 0 that cannot compose with what precedes it. Inside a run, outputs are aligned to inputs
// in order (enough for decomposition, composition and compatibility expansions alike).
#include "normalizers.h"

namespace hfcpp::tok {

namespace {

bool starts_run(char32_t c) { return combining_class(c) == 0 && !composes_with_previous(c); }

void normalize_run(std::string_view run, const std::vector<Span>& spans, NormalizationForm form,
                   NormalizedString::Builder& out) {
  const std::string normalized = normalize(run, form);
  std::vector<char32_t> chars;
  std::size_t pos = 0;
  while (pos < normalized.size()) {
    std::size_t len;
    chars.push_back(decode_utf8(normalized, pos, &len));
    pos += len;
  }
  const std::size_t n = spans.size(), m = chars.size();
  for (std::size_t i = 0; i < m; ++i) {
    Span span = spans[std::min(i, n - 1)];
    if (i + 1 == m && m < n) span.end = spans[n - 1].end;  // the last output absorbs the rest
    out.push(chars[i], span);
  }
}

}  // namespace

void apply_normalization_form(NormalizedString& text, NormalizationForm form) {
  const std::string& s = text.text();
  // ASCII is invariant under every form; skip the rebuild when nothing else is present.
  bool ascii = true;
  for (const char ch : s) ascii = ascii && static_cast<unsigned char>(ch) < 0x80;
  if (ascii) return;

  NormalizedString::Builder out(s.size() + s.size() / 4);
  std::size_t run_start = 0;
  std::vector<Span> run_spans;
  bool run_ascii = true;
  const auto flush = [&](std::size_t run_end) {
    if (run_spans.empty()) return;
    const std::string_view run = std::string_view(s).substr(run_start, run_end - run_start);
    if (run_ascii)
      out.push_aligned(run, text.alignments().data() + run_start);
    else
      normalize_run(run, run_spans, form, out);
    run_spans.clear();
    run_ascii = true;
    run_start = run_end;
  };
  text.for_each_char([&](char32_t c, std::size_t pos, std::size_t, Span span) {
    if (starts_run(c)) flush(pos);
    run_spans.push_back(span);
    run_ascii = run_ascii && c < 0x80;
  });
  flush(s.size());
  text = std::move(out).finish(text.original_start());
}

void UnicodeNormalizer::normalize(NormalizedString& text) const { apply_normalization_form(text, form_); }

}  // namespace hfcpp::tok
