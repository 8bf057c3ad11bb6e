#include "sharding_fixtures.h"

#include <ATen/ATen.h>

#include <map>

#include "hfcpp/io/safetensors.h"
#include "test_support.h"

namespace hfcpp::testing {

nlohmann::json sharding_expected(const std::string& family) {
  return nlohmann::json::parse(read_file(data_path("sharding/" + family + "/expected.json")));
}

StateDict python_state_dict(const std::string& family, bool with_tied) {
  std::map<std::string, at::Tensor> saved;
  for (auto& [name, tensor] : load_safetensors(data_path("sharding/" + family + "/safetensors/model.safetensors")))
    saved.emplace(name, tensor);
  std::map<std::string, at::Tensor> tensor_of_storage;
  StateDict state;
  const nlohmann::json expected = sharding_expected(family);
  for (const auto& entry : expected["state_dict"]) {
    const auto key = entry["key"].get<std::string>();
    const auto storage = entry["storage"].get<std::string>();
    auto tied = tensor_of_storage.find(storage);
    if (tied != tensor_of_storage.end()) {
      if (with_tied) state.insert(key, tied->second);
      continue;
    }
    // The first key of each storage is the one save_pretrained kept in model.safetensors.
    const at::Tensor& tensor = saved.at(key);
    tensor_of_storage.emplace(storage, tensor);
    state.insert(key, tensor);
  }
  if (state.size() < saved.size())
    throw std::runtime_error(family + ": model.safetensors has keys the .bin lacks (" + std::to_string(state.size()) +
                             " < " + std::to_string(saved.size()) + ")");
  return state;
}

ParameterTree::ParameterTree(const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& parameters) {
  for (const auto& [name, shape] : parameters) add(name, shape);
}

void ParameterTree::add(const std::string& dotted_name, const std::vector<std::int64_t>& shape, bool buffer) {
  torch::nn::Module* module = this;
  std::string rest = dotted_name;
  for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
    const std::string child = rest.substr(0, dot);
    rest = rest.substr(dot + 1);
    auto children = module->named_children();
    if (const auto* found = children.find(child)) {
      module = found->get();
    } else {
      module = module->register_module(child, std::make_shared<torch::nn::Module>()).get();
    }
  }
  if (buffer) module->register_buffer(rest, at::zeros(shape));
  else module->register_parameter(rest, at::zeros(shape));
}

}  // namespace hfcpp::testing
