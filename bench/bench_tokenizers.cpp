// Encode throughput of the tokenizers on one thread, over a few MB of deterministic mixed text
// (English prose, code, numbers, some non-ASCII). Prints a table; no Google Benchmark needed.
//
//   cmake --build build --target bench_tokenizers && build/bench/bench_tokenizers [data_dir] [MB]
// The "CPU time" column divides by this thread's CPU time, which stays meaningful when other
// processes share the machine; the other columns are wall-clock.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "hfcpp/tokenizers/auto_tokenizer.h"

namespace {

// A small deterministic generator (64-bit LCG), so every run tokenizes the same text.
struct Lcg {
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  std::uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>(state >> 33);
  }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[next() % items.size()]; }
};

const std::vector<std::string> kProse = {
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's not butter; we'll see what they've said.",
    "Once upon a time, there was a little girl who lived in a village near the forest.",
    "Whenever she went out, the little girl wore a red riding cloak, so everyone called her Little Red Riding Hood.",
    "The committee will meet again next Tuesday to discuss the proposed changes to the budget.",
    "Scientists have long suspected that the early universe was far more turbulent than today.",
    "He opened the window, and the smell of rain drifted into the quiet room.",
    "Tokenization splits text into pieces that a language model can look up in its vocabulary.",
    "Mixed CASE Words and ALLCAPS appear in headlines, emails and code comments alike.",
    "email me at someone@example.com or visit https://huggingface.co/docs?q=a&b=c#frag",
    "punctuation!!! ??? ... ;;; (()) and \"double\" 'single' quotes",
};
const std::vector<std::string> kCode = {
    "def f(x):\n    return x**2  # code\n",
    "for (int i = 0; i < n; ++i) { total += values[i] * weights[i]; }\n",
    "if (!file.is_open()) throw std::runtime_error(\"cannot open \" + path);\n",
    "const result = await fetch(url, { method: 'POST', body: JSON.stringify(data) });\n",
    "SELECT name, COUNT(*) FROM users WHERE created_at > '2024-01-01' GROUP BY name;\n",
};
const std::vector<std::string> kNonAscii = {
    "Café naïve résumé façade, Ångström.", "中文分词测试", "日本語のテキストとカタカナ", "한국어 문장입니다",
    "Ελληνικά και русский текст", "العربية עברית", "Emoji: 🤗🚀👍🏽 and ❤️", "$100 €50 £20 ¥1000 ₹500",
};

// Lines of about 60-400 bytes: mostly prose, some code, numbers and non-ASCII.
std::vector<std::string> make_corpus(std::size_t bytes) {
  Lcg rng;
  std::vector<std::string> lines;
  std::size_t total = 0;
  while (total < bytes) {
    std::string line;
    const std::uint32_t kind = rng.next() % 10;
    const int parts = 1 + static_cast<int>(rng.next() % 6);
    for (int i = 0; i < parts; ++i) {
      if (kind < 6) {
        line += rng.pick(kProse) + " ";
      } else if (kind < 8) {
        line += rng.pick(kCode);
      } else if (kind < 9) {
        line += "Numbers: " + std::to_string(rng.next() % 100000) + "." + std::to_string(rng.next() % 1000) + ", " +
                std::to_string(rng.next()) + " and 2024-10-" + std::to_string(10 + rng.next() % 20) + ". ";
      } else {
        line += rng.pick(kNonAscii) + " " + rng.pick(kProse) + " ";
      }
    }
    total += line.size();
    lines.push_back(std::move(line));
  }
  return lines;
}

// CPU time of this thread: on a shared machine it shows the work done, whatever the load.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Result {
  double seconds;      // wall
  double cpu_seconds;  // this thread's CPU
  std::size_t tokens;
};

Result time_pass(const hfcpp::Tokenizer& tok, const std::vector<std::string>& lines) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  std::size_t tokens = 0;
  for (const auto& line : lines) tokens += tok.encode(line).size();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return {elapsed.count(), thread_cpu_seconds() - cpu_start, tokens};
}

}  // namespace

int main(int argc, char** argv) {
#ifdef HFCPP_TOKENIZER_DATA_DIR
  std::string data = HFCPP_TOKENIZER_DATA_DIR;
#else
  std::string data = "tests/data/tokenizers";
#endif
  if (argc > 1) data = argv[1];
  const double megabytes = argc > 2 ? std::stod(argv[2]) : 4.0;
  const auto lines = make_corpus(static_cast<std::size_t>(megabytes * 1e6));
  std::size_t bytes = 0, non_ascii = 0;
  for (const auto& line : lines) {
    bytes += line.size();
    non_ascii += std::count_if(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  }
  std::string whole;
  for (const auto& line : lines) whole += line;

  struct Case {
    const char* name;
    std::string folder;
    bool use_fast;
  };
  const std::vector<Case> cases = {
      {"GPT-2 byte-level BPE (tokenizer.json)", data + "/gpt2-tokenizer", true},
      {"GPT-2 byte-level BPE (vocab.json+merges)", data + "/gpt2-tokenizer", false},
      {"BERT WordPiece (tokenizer.json)", data + "/bert-caikit-random", true},
      {"Llama BPE + byte fallback (tokenizer.json)", data + "/llama-tinyllama-v0-tokenizer-only", true},
  };
  std::printf("# bench_tokenizers: encode() per line, 1 thread, %zu lines, %.2f MB (%.1f%% non-ASCII bytes);"
              " warm = best of 3 passes after a cold one\n",
              lines.size(), bytes / 1e6, 100.0 * non_ascii / bytes);
  std::printf("# reproduce: %s %s %g  (built by: cmake --build <build dir> --target bench_tokenizers)\n", argv[0],
              data.c_str(), megabytes);
  std::printf("| tokenizer | load s | cold MB/s | warm MB/s | warm MB/s (CPU time) | warm Mtok/s | whole text MB/s |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const Case& c : cases) {
    const auto load_start = std::chrono::steady_clock::now();
    const hfcpp::Tokenizer tok = hfcpp::AutoTokenizer::from_pretrained(c.folder, {.use_fast = c.use_fast});
    const std::chrono::duration<double> load = std::chrono::steady_clock::now() - load_start;
    const Result cold = time_pass(tok, lines);  // the BPE word cache fills during this pass
    Result warm{1e30, 1e30, 0};
    for (int run = 0; run < 3; ++run) {
      const Result r = time_pass(tok, lines);
      if (r.seconds < warm.seconds) warm = r;
    }
    // One encode() of the whole text (Llama has no pre-tokenizer: one word per line there).
    double whole_mbps = 0;
    if (std::string(c.name).find("Llama") == std::string::npos) {
      const auto start = std::chrono::steady_clock::now();
      const auto n = tok.encode(whole).size();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      whole_mbps = n ? bytes / 1e6 / elapsed.count() : 0;
    }
    char whole_text[32] = "-";
    if (whole_mbps > 0) std::snprintf(whole_text, sizeof whole_text, "%.1f", whole_mbps);
    std::printf("| %s | %.2f | %.1f | %.1f | %.1f | %.2f | %s |\n", c.name, load.count(), bytes / 1e6 / cold.seconds,
                bytes / 1e6 / warm.seconds, bytes / 1e6 / warm.cpu_seconds, warm.tokens / 1e6 / warm.seconds,
                whole_text);
  }
  return 0;
}
