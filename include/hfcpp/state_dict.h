// The ordered name -> tensor map that checkpoints hold and modules produce.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

#include <string>

namespace hfcpp {

// Insertion-ordered, as Python's state_dict(): key order decides shard assignment and file layout.
using StateDict = torch::OrderedDict<std::string, at::Tensor>;

}  // namespace hfcpp
