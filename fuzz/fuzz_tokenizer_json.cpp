// libFuzzer target: parse a tokenizer.json from bytes, then encode and decode a fixed text.
// Every input must load or throw hfcpp::Error; nothing may crash, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hfcpp/error.h"
#include "hfcpp/tokenizers/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    const hfcpp::Tokenizer tokenizer = hfcpp::Tokenizer::from_json_string(json, "fuzz.json");
    for (const char* text : {"Hello wörld, 123 <s> [CLS] 日本語 🤗  tabs\tand\nlines!",
                             "", " ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
      const hfcpp::Encoding encoding = tokenizer.encode(text);
      tokenizer.decode(encoding.ids, false);
      tokenizer.decode(encoding.ids, true);
      const hfcpp::Encoding pair = tokenizer.encode_pair(text, "pair", {.truncation = true, .max_length = 8});
      (void)pair;
    }
    tokenizer.decode(std::vector<std::int64_t>{0, 1, 2, 3, 100, 256, -1});
  } catch (const hfcpp::Error&) {
  }
  return 0;
}
