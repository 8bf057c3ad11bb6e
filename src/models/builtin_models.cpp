#include "builtin_models.h"

namespace hfcpp::detail {

void register_builtin_models() { register_bert_models(); }

}  // namespace hfcpp::detail
