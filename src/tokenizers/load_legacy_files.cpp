// vocab.json + merges.txt (byte-level BPE) and vocab.txt (WordPiece), as Transformers' slow
// tokenizers read them, turned into the equivalent fast pipeline.
#include <fstream>
#include <sstream>

#include "decoders.h"
#include "hfcpp/error.h"
#include "loaders.h"
#include "models.h"
#include "normalizers.h"
#include "post_processors.h"
#include "pre_tokenizers.h"
#include "unicode.h"

namespace hfcpp::tok {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw FileError(path.string() + ": read error");
  return buffer.str();
}

namespace {

void require_utf8(const std::string& text, const std::filesystem::path& path) {
  const std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos)
    throw FormatError(path.string() + ": not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
}

// Lines without their "\n" (a final newline does not start an empty line).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

std::vector<std::pair<std::string, std::string>> read_merges(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  require_utf8(text, path);
  std::vector<std::pair<std::string, std::string>> merges;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (i == 0 && line.starts_with("#version"))) continue;
    // Python's str.split(): runs of ASCII whitespace separate the two tokens.
    std::vector<std::string> parts;
    std::istringstream words{std::string(line)};
    std::string word;
    while (words >> word) parts.push_back(word);
    if (parts.size() != 2)
      throw FormatError(path.string() + ": line " + std::to_string(i + 1) +
                        ": expected two tokens separated by a space, found \"" + std::string(line) + "\"");
    merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
  }
  return merges;
}

}  // namespace

std::shared_ptr<TokenizerState> load_vocab_json_and_merges(const std::filesystem::path& vocab_json,
                                                           const std::filesystem::path& merges_txt) {
  const std::string vocab_text = read_text_file(vocab_json);
  const nlohmann::json document = parse_json_text(vocab_text, vocab_json.string());
  const JsonView root(document, std::make_shared<const std::string>(vocab_json.string()), "");
  TokenIds vocab = vocab_from_json(root);
  const auto merges = read_merges(merges_txt);

  auto state = std::make_shared<TokenizerState>();
  BpeOptions options;  // GPT2Converter: no unk token, no prefix/suffix, fuse_unk false
  try {
    state->model = std::make_unique<BpeModel>(std::move(vocab), merges, options);
  } catch (const ValueError& e) {
    throw FormatError(merges_txt.string() + ": " + e.what());
  }
  state->pre_tokenizer = std::make_unique<ByteLevelPreTokenizer>(false, true);
  state->decoder = std::make_unique<ByteLevelDecoder>();
  state->post_processor = std::make_unique<ByteLevelPostProcessor>(false, false);
  return state;
}

std::shared_ptr<TokenizerState> load_vocab_txt(const std::filesystem::path& vocab_txt,
                                               const BertSettings& settings) {
  const std::string text = read_text_file(vocab_txt);
  require_utf8(text, vocab_txt);
  TokenIds vocab;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) vocab[std::string(lines[i])] = static_cast<std::uint32_t>(i);
  if (vocab.empty()) throw FormatError(vocab_txt.string() + ": empty vocabulary");

  auto state = std::make_shared<TokenizerState>();
  state->model = std::make_unique<WordPieceModel>(std::move(vocab), settings.unk_token, "##", 100);
  state->normalizer = std::make_unique<BertNormalizer>(true, settings.tokenize_chinese_chars,
                                                       settings.strip_accents, settings.do_lower_case);
  state->pre_tokenizer = std::make_unique<BertPreTokenizer>();
  state->decoder = std::make_unique<WordPieceDecoder>("##", true);
  return state;
}

}  // namespace hfcpp::tok
