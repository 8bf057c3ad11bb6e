// Fixtures shared by the sharding tests: the Python models' state dicts in Python's key order, and
// a module tree with given parameter names.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include "hfcpp/state_dict.h"

namespace hfcpp::testing {

// tests/data/sharding/<family>/expected.json (see make_sharding_data.py there).
nlohmann::json sharding_expected(const std::string& family);

// The state dict Python split when saving <family>: the tensors of its model.safetensors in the
// order of model.state_dict(). With `with_tied`, the tied duplicates that only the .bin keeps
// (lm_head.weight of GPT-2, BERT's decoder weight and bias) are included, sharing the storage of
// the tensor they are tied to, as they do in Python.
StateDict python_state_dict(const std::string& family, bool with_tied);

// A module whose parameters have the given dotted names and shapes (all zeros), built from nested
// submodules so named_parameters() returns exactly these names.
class ParameterTree : public torch::nn::Module {
 public:
  explicit ParameterTree(const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& parameters);
  // Adds a parameter (or a buffer) under a dotted name, creating submodules as needed.
  void add(const std::string& dotted_name, const std::vector<std::int64_t>& shape, bool buffer = false);
};

}  // namespace hfcpp::testing
