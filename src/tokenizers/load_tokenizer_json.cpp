// tokenizer.json -> TokenizerState.
#include "decoders.h"
#include "hfcpp/error.h"
#include "loaders.h"
#include "models.h"
#include "normalizers.h"
#include "post_processors.h"
#include "pre_tokenizers.h"

namespace hfcpp::tok {

namespace {

void added_tokens_from_json(const JsonView& list, TokenizerState& state) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    const JsonView item = list.at(i);
    AddedToken token;
    token.id = item["id"].token_id();
    token.content = item["content"].str();
    if (token.content.empty()) item["content"].expected("a non-empty string");
    token.single_word = item.bool_or("single_word", false);
    token.lstrip = item.bool_or("lstrip", false);
    token.rstrip = item.bool_or("rstrip", false);
    token.normalized = item.bool_or("normalized", true);
    token.special = item.bool_or("special", false);
    state.added.add(token);
  }
}

}  // namespace

std::shared_ptr<TokenizerState> load_tokenizer_json(std::string_view text, const std::string& file) {
  const nlohmann::json document = parse_json_text(text, file);
  const JsonView root(document, std::make_shared<const std::string>(file), "");
  if (!root.is_object()) root.expected("a JSON object");
  auto state = std::make_shared<TokenizerState>();
  state->model = model_from_json(root["model"]);
  if (const auto v = root.get("normalizer")) state->normalizer = normalizer_from_json(*v);
  if (const auto v = root.get("pre_tokenizer")) state->pre_tokenizer = pre_tokenizer_from_json(*v);
  if (const auto v = root.get("post_processor")) state->post_processor = post_processor_from_json(*v);
  if (const auto v = root.get("decoder")) state->decoder = decoder_from_json(*v);
  if (const auto v = root.get("added_tokens")) added_tokens_from_json(*v, *state);
  return state;
}

}  // namespace hfcpp::tok
