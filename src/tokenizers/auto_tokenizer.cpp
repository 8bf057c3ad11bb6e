// AutoTokenizer::from_pretrained: the files of a model folder plus Transformers' settings
// (tokenizer_config.json, special_tokens_map.json, added_tokens.json).
#include "hfcpp/tokenizers/auto_tokenizer.h"

#include <cmath>

#include "hfcpp/error.h"
#include "loaders.h"
#include "normalizers.h"
#include "post_processors.h"
#include "pre_tokenizers.h"

namespace hfcpp {

namespace fs = std::filesystem;
using namespace tok;

namespace {

constexpr const char* kSpecialKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                        "pad_token", "cls_token", "mask_token"};

struct JsonFile {
  nlohmann::json document;
  std::optional<JsonView> root;  // nullopt when the file does not exist
};

std::unique_ptr<JsonFile> read_optional_json(const fs::path& path) {
  auto file = std::make_unique<JsonFile>();
  if (!fs::exists(path)) return file;
  file->document = parse_json_text(read_text_file(path), path.string());
  file->root.emplace(file->document, std::make_shared<const std::string>(path.string()), "");
  if (!file->root->is_object()) file->root->expected("a JSON object");
  return file;
}

// A special token value: "text" or {"content": "text", ...} (serialized AddedToken).
std::optional<AddedToken> token_value(const JsonView& value, bool special) {
  if (value.is_null()) return std::nullopt;
  AddedToken token;
  token.special = special;
  token.normalized = !special;
  if (value.is_string()) {
    token.content = value.str();
  } else if (value.is_object()) {
    token.content = value["content"].str();
    token.single_word = value.bool_or("single_word", false);
    token.lstrip = value.bool_or("lstrip", false);
    token.rstrip = value.bool_or("rstrip", false);
    token.normalized = value.bool_or("normalized", !special);
    token.special = value.bool_or("special", special);
  } else {
    value.expected("a token string or {\"content\": ...}");
  }
  if (token.content.empty()) return std::nullopt;
  return token;
}

std::optional<std::string>* special_slot(SpecialTokenNames& names, std::string_view key) {
  if (key == "bos_token") return &names.bos;
  if (key == "eos_token") return &names.eos;
  if (key == "unk_token") return &names.unk;
  if (key == "sep_token") return &names.sep;
  if (key == "pad_token") return &names.pad;
  if (key == "cls_token") return &names.cls;
  if (key == "mask_token") return &names.mask;
  return nullptr;
}

// Special token names and flags from a config object (tokenizer_config or special_tokens_map).
void read_special_tokens(const JsonView& root, SpecialTokenNames& names, std::vector<AddedToken>& flags) {
  for (const char* key : kSpecialKeys) {
    const auto value = root.get(key);
    if (!value) continue;
    if (auto token = token_value(*value, true)) {
      *special_slot(names, key) = token->content;
      flags.push_back(*token);
    }
  }
  if (const auto extra = root.get("additional_special_tokens")) {
    names.additional.clear();
    for (std::size_t i = 0; i < extra->size(); ++i)
      if (auto token = token_value(extra->at(i), true)) {
        names.additional.push_back(token->content);
        flags.push_back(*token);
      }
  }
}

std::optional<bool> optional_bool(const std::optional<JsonView>& root, std::string_view key) {
  if (!root) return std::nullopt;
  const auto value = root->get(key);
  if (!value) return std::nullopt;
  return value->boolean();
}

Side side_from_json(const JsonView& value) {
  const std::string side = value.str();
  if (side == "right") return Side::right;
  if (side == "left") return Side::left;
  value.expected("\"left\" or \"right\"");
}

// Every pre-tokenizer / normalizer of a given type, looking inside Sequences.
template <class Wanted>
void collect_pre_tokenizers(PreTokenizer* p, std::vector<Wanted*>& out) {
  if (!p) return;
  if (auto* hit = dynamic_cast<Wanted*>(p)) out.push_back(hit);
  if (auto* seq = dynamic_cast<SequencePreTokenizer*>(p))
    for (auto& step : seq->steps()) collect_pre_tokenizers(step.get(), out);
}

// Drops Prepend("▁")-style normalizers (add_prefix_space=false on a SentencePiece layout).
bool remove_prepend_normalizers(std::unique_ptr<Normalizer>& n) {
  if (!n) return false;
  if (dynamic_cast<PrependNormalizer*>(n.get())) {
    n.reset();
    return true;
  }
  bool removed = false;
  if (auto* seq = dynamic_cast<SequenceNormalizer*>(n.get())) {
    auto& steps = seq->steps();
    for (auto& step : steps) removed = remove_prepend_normalizers(step) || removed;
    std::erase_if(steps, [](const auto& step) { return !step; });
  }
  return removed;
}

std::uint32_t next_free_id(const TokenizerState& state) {
  std::uint64_t next = state.model->vocab_size();
  state.model->for_each_token([&](const std::string&, std::uint32_t id) { next = std::max<std::uint64_t>(next, id + 1ULL); });
  for (const auto& token : state.added.tokens()) next = std::max<std::uint64_t>(next, token.id + 1ULL);
  return static_cast<std::uint32_t>(next);
}

// Adds `token` unless a token with its content is already added; its id is the vocabulary's
// id when the model knows it, otherwise the next free id.
void add_if_missing(TokenizerState& state, AddedToken token, std::optional<std::uint32_t> id = std::nullopt) {
  if (state.added.find(token.content)) return;
  if (id)
    token.id = *id;
  else if (const auto known = state.model->token_to_id(token.content))
    token.id = *known;
  else
    token.id = next_free_id(state);
  state.added.add(token);
}

// bos $A eos (pair: bos $A eos bos $B eos), as LlamaTokenizerFast.update_post_processor.
std::unique_ptr<PostProcessor> bos_eos_template(const TokenizerState& state, bool add_bos, bool add_eos) {
  std::map<std::string, TemplateSpecialToken> specials;
  std::vector<TemplatePiece> single, pair;
  const auto special = [&](const std::optional<std::string>& name, const char* what, std::int64_t type_id) {
    if (!name) throw ValueError(std::string("add_") + what + "_token is set but the tokenizer has no " + what + "_token");
    const auto id = state.token_to_id(*name);
    if (!id) throw ValueError(std::string(what) + "_token \"" + *name + "\" is not in the vocabulary");
    specials[*name] = {{static_cast<std::int64_t>(*id)}, {*name}};
    TemplatePiece piece;
    piece.special_id = *name;
    piece.type_id = type_id;
    return piece;
  };
  const auto sequence = [](int which, std::int64_t type_id) {
    TemplatePiece piece;
    piece.is_sequence = true;
    piece.sequence = which;
    piece.type_id = type_id;
    return piece;
  };
  if (add_bos) single.push_back(special(state.special.bos, "bos", 0));
  single.push_back(sequence(0, 0));
  if (add_eos) single.push_back(special(state.special.eos, "eos", 0));
  pair = single;
  if (add_bos) pair.push_back(special(state.special.bos, "bos", 1));
  pair.push_back(sequence(1, 1));
  if (add_eos) pair.push_back(special(state.special.eos, "eos", 1));
  return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair), std::move(specials));
}

// add_bos_token / add_eos_token as the final post-processor behaves.
void report_bos_eos(TokenizerState& state) {
  if (!state.post_processor) return;
  std::vector<Encoding> parts(1);
  state.post_processor->process(parts, true);
  Encoding merged;
  for (auto& part : parts) append_encoding(merged, std::move(part));
  state.add_bos_token = state.special.bos && !merged.tokens.empty() && merged.tokens.front() == *state.special.bos;
  state.add_eos_token = state.special.eos && !merged.tokens.empty() && merged.tokens.back() == *state.special.eos &&
                        !(merged.size() == 1 && state.add_bos_token);
}

bool class_honours_bos_eos(const std::string& tokenizer_class) {
  for (const char* name : {"GPT2", "Llama", "Gemma", "CodeLlama"})
    if (tokenizer_class.find(name) != std::string::npos) return true;
  return false;
}

}  // namespace

Tokenizer AutoTokenizer::from_pretrained(const fs::path& path, const TokenizerOptions& options) {
  fs::path dir = path;
  fs::path tokenizer_json;
  if (fs::is_regular_file(path)) {
    tokenizer_json = path;
    dir = path.parent_path();
  } else if (!fs::is_directory(path)) {
    throw FileError(path.string() + ": no such tokenizer folder or file");
  } else if (options.use_fast && fs::exists(dir / "tokenizer.json")) {
    tokenizer_json = dir / "tokenizer.json";
  }

  const auto config_file = read_optional_json(dir / "tokenizer_config.json");
  const auto& config = config_file->root;
  const std::string tokenizer_class = config ? config->str_or("tokenizer_class", "") : "";

  // Special token names: tokenizer_config.json, or special_tokens_map.json for older folders.
  SpecialTokenNames names;
  std::vector<AddedToken> special_flags;
  if (config) read_special_tokens(*config, names, special_flags);
  const bool has_added_tokens_decoder = config && config->has("added_tokens_decoder");
  if (!has_added_tokens_decoder) {
    const auto map_file = read_optional_json(dir / "special_tokens_map.json");
    if (map_file->root) read_special_tokens(*map_file->root, names, special_flags);
  }

  // The pipeline.
  std::shared_ptr<TokenizerState> state;
  bool slow_bert = false;
  if (!tokenizer_json.empty()) {
    state = load_tokenizer_json(read_text_file(tokenizer_json), tokenizer_json.string());
  } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    state = load_vocab_json_and_merges(dir / "vocab.json", dir / "merges.txt");
    if (tokenizer_class.find("Roberta") != std::string::npos || tokenizer_class.find("Bart") != std::string::npos ||
        tokenizer_class.find("Longformer") != std::string::npos) {
      const std::string cls = names.cls.value_or("<s>"), sep = names.sep.value_or("</s>");
      const auto cls_id = state->model->token_to_id(cls), sep_id = state->model->token_to_id(sep);
      if (!cls_id || !sep_id) throw FormatError((dir / "vocab.json").string() + ": no id for " + cls + " / " + sep);
      state->post_processor = std::make_unique<RobertaProcessing>(SpecialToken{sep, *sep_id},
                                                                  SpecialToken{cls, *cls_id}, true, false);
    }
  } else if (fs::exists(dir / "vocab.txt")) {
    BertSettings settings;
    if (config) {
      settings.do_lower_case = config->bool_or("do_lower_case", true);
      if (const auto v = config->get("strip_accents")) settings.strip_accents = v->boolean();
      settings.tokenize_chinese_chars = config->bool_or("tokenize_chinese_chars", true);
    }
    if (!names.unk) names.unk = "[UNK]";
    if (!names.sep) names.sep = "[SEP]";
    if (!names.pad) names.pad = "[PAD]";
    if (!names.cls) names.cls = "[CLS]";
    if (!names.mask) names.mask = "[MASK]";
    for (const auto* name : {&names.unk, &names.sep, &names.pad, &names.cls, &names.mask}) {
      AddedToken token;
      token.content = **name;
      token.special = true;
      token.normalized = false;
      special_flags.push_back(token);
    }
    settings.unk_token = *names.unk;
    state = load_vocab_txt(dir / "vocab.txt", settings);
    slow_bert = true;
  } else if (fs::exists(dir / "tokenizer.model") || fs::exists(dir / "spiece.model") ||
             fs::exists(dir / "sentencepiece.bpe.model")) {
    throw UnsupportedError(dir.string() + ": only a SentencePiece model is present; hfcpp reads "
                           "tokenizer.json, vocab.json + merges.txt or vocab.txt");
  } else {
    throw FileError(dir.string() + ": no tokenizer.json, vocab.json + merges.txt or vocab.txt");
  }
  state->special = names;

  // Added tokens from the config (with their ids), then added_tokens.json (older folders),
  // then the special tokens that are still missing.
  if (has_added_tokens_decoder) {
    const JsonView decoder = (*config)["added_tokens_decoder"];
    if (!decoder.is_object()) decoder.expected("an object {id: token}");
    for (const auto& [key, value] : decoder.raw().items()) {
      const JsonView entry = decoder[key];
      std::uint32_t id;
      try {
        std::size_t used = 0;
        const unsigned long long parsed = std::stoull(key, &used);
        if (used != key.size() || parsed >= UINT32_MAX) throw std::out_of_range(key);
        id = static_cast<std::uint32_t>(parsed);
      } catch (const std::exception&) {
        entry.fail("the key is not a token id");
      }
      if (state->added.find(id)) continue;
      if (auto token = token_value(entry, entry.is_object() && entry.bool_or("special", false)))
        add_if_missing(*state, *token, id);
    }
  } else if (fs::exists(dir / "added_tokens.json")) {
    const auto added_file = read_optional_json(dir / "added_tokens.json");
    const JsonView& root = *added_file->root;
    for (const auto& [content, value] : root.raw().items()) {
      AddedToken token;
      token.content = content;
      token.special = false;
      for (const auto& flag : special_flags) token.special = token.special || flag.content == content;
      token.normalized = !token.special;
      if (!content.empty()) add_if_missing(*state, token, root[content].token_id());
    }
  }
  for (const auto& flag : special_flags) {
    if (const AddedToken* existing = state->added.find(flag.content)) {
      if (!existing->special) {  // a special token name makes the token special
        AddedToken updated = *existing;
        updated.special = true;
        state->added.add(updated);
      }
      continue;
    }
    add_if_missing(*state, flag);
  }

  // Transformers-level settings.
  const auto bool_setting = [&](const std::optional<bool>& option, std::string_view key) {
    return option ? option : optional_bool(config, key);
  };
  const std::optional<bool> add_bos = options.add_bos_token
                                          ? options.add_bos_token
                                          : (class_honours_bos_eos(tokenizer_class) ? optional_bool(config, "add_bos_token") : std::nullopt);
  const std::optional<bool> add_eos = options.add_eos_token
                                          ? options.add_eos_token
                                          : (class_honours_bos_eos(tokenizer_class) ? optional_bool(config, "add_eos_token") : std::nullopt);
  if (add_bos || add_eos) {
    PostProcessor* existing = state->post_processor.get();
    const bool is_template = dynamic_cast<TemplateProcessing*>(existing) != nullptr;
    // A flag that is not given keeps its default: a Llama template adds bos; nothing adds eos.
    const bool bos = add_bos.value_or(is_template);
    const bool eos = add_eos.value_or(false);
    if (!existing || is_template) {
      state->post_processor = bos_eos_template(*state, bos, eos);
    } else if (dynamic_cast<ByteLevelPostProcessor*>(existing)) {
      std::vector<std::unique_ptr<PostProcessor>> steps;
      steps.push_back(std::move(state->post_processor));
      steps.push_back(bos_eos_template(*state, bos, eos));
      state->post_processor = std::make_unique<SequencePostProcessor>(std::move(steps));
    }
  }
  if (slow_bert) {
    const auto cls = state->model->token_to_id(*names.cls), sep = state->model->token_to_id(*names.sep);
    if (!cls || !sep) throw FormatError((dir / "vocab.txt").string() + ": " + *names.cls + " or " + *names.sep + " missing");
    std::map<std::string, TemplateSpecialToken> specials{{*names.cls, {{*cls}, {*names.cls}}},
                                                         {*names.sep, {{*sep}, {*names.sep}}}};
    const auto piece = [](const std::string& special, int sequence, std::int64_t type_id) {
      TemplatePiece p;
      p.is_sequence = special.empty();
      p.special_id = special;
      p.sequence = sequence;
      p.type_id = type_id;
      return p;
    };
    std::vector<TemplatePiece> single{piece(*names.cls, 0, 0), piece("", 0, 0), piece(*names.sep, 0, 0)};
    std::vector<TemplatePiece> pair = single;
    pair.push_back(piece("", 1, 1));
    pair.push_back(piece(*names.sep, 0, 1));
    state->post_processor = std::make_unique<TemplateProcessing>(single, pair, specials);
  }

  if (const auto add_prefix_space = bool_setting(options.add_prefix_space, "add_prefix_space")) {
    std::vector<ByteLevelPreTokenizer*> byte_level;
    collect_pre_tokenizers(state->pre_tokenizer.get(), byte_level);
    std::vector<MetaspacePreTokenizer*> metaspace;
    collect_pre_tokenizers(state->pre_tokenizer.get(), metaspace);
    if (!byte_level.empty()) {
      const bool already = byte_level.front()->add_prefix_space();
      if (*add_prefix_space && !already) {
        state->prepend_space = true;  // slow GPT-2: " " + text, once
      } else if (!*add_prefix_space) {
        for (auto* p : byte_level) p->set_add_prefix_space(false);
      }
    } else if (!*add_prefix_space) {
      for (auto* p : metaspace) p->set_prepend_scheme(PrependScheme::never);
      remove_prepend_normalizers(state->normalizer);
    }
  }

  // Numbers and sides.
  const std::optional<bool> cleanup = bool_setting(options.clean_up_tokenization_spaces, "clean_up_tokenization_spaces");
  state->clean_up_tokenization_spaces = cleanup.value_or(slow_bert);
  if (options.padding_side)
    state->padding_side = *options.padding_side;
  else if (config && config->has("padding_side"))
    state->padding_side = side_from_json((*config)["padding_side"]);
  if (options.truncation_side)
    state->truncation_side = *options.truncation_side;
  else if (config && config->has("truncation_side"))
    state->truncation_side = side_from_json((*config)["truncation_side"]);
  if (options.model_max_length) {
    state->model_max_length = options.model_max_length;
  } else if (config && config->has("model_max_length")) {
    const double value = (*config)["model_max_length"].number();
    // Transformers writes int(1e30) for "no limit".
    if (value > 0 && value < 1e18) state->model_max_length = static_cast<std::size_t>(value);
  }
  state->prepare();
  report_bos_eos(*state);
  return Tokenizer(std::move(state));
}

Tokenizer Tokenizer::from_json_string(std::string_view json, const std::string& source_name) {
  auto state = load_tokenizer_json(json, source_name);
  state->prepare();
  return Tokenizer(std::move(state));
}

Tokenizer Tokenizer::from_file(const fs::path& tokenizer_json) {
  return from_json_string(read_text_file(tokenizer_json), tokenizer_json.string());
}

}  // namespace hfcpp
