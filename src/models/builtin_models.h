// Registration of the model families built into hfcpp. Called once by the registry: explicit
// calls (not static initialisers) so a static libhfcpp.a keeps every model.
#pragma once

namespace hfcpp::detail {

void register_builtin_models();
// Runs register_builtin_models once; every registry lookup calls it first.
void ensure_builtin_models_registered();
void register_bert_models();
void register_gpt2_models();
void register_llama_models();

}  // namespace hfcpp::detail
