#include "builtin_models.h"

namespace hfcpp::detail {

void register_builtin_models() {
  register_bert_models();
  register_gpt2_models();
  register_llama_models();
}

}  // namespace hfcpp::detail
