// GPT2LMHeadModel and LlamaForCausalLM saved by Python in every format
// (tests/data/{gpt2,llama}/*/formats): each loads with the dtypes Transformers gives and the same
// logits, as tests/modeling/test_formats.cpp checks for BERT.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "hfcpp/dtype.h"
#include "hfcpp/error.h"
#include "hfcpp/models/auto.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

const std::vector<std::string>& families() {
  static const std::vector<std::string> folders = {"gpt2/GPT2LMHeadModel", "llama/LlamaForCausalLM"};
  return folders;
}

const nlohmann::json& loads(const std::string& family) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(family);
  if (it == cache.end())
    it = cache.emplace(family, nlohmann::json::parse(testing::read_file(data_path(family + "/formats/expected.json")))["loads"])
             .first;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> load_cases() {
  std::vector<std::pair<std::string, std::string>> cases;
  for (const auto& family : families())
    for (const auto& [name, value] : loads(family).items())
      if (value.contains("param_dtypes")) cases.emplace_back(family, name);
  return cases;
}


class DecoderFormatLoads : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(DecoderFormatLoads, DtypesAndLogitsMatchTransformers) {
  const auto& [family, name] = GetParam();
  const std::string folder = name.substr(0, name.find('.'));
  const auto& c = loads(family)[name];
  FromPretrainedOptions options;
  options.attn_implementation = "eager";  // as the fixtures were made (shared/fixtures/README.md)
  const auto& kwargs = c["from_pretrained_kwargs"];
  if (kwargs.contains("torch_dtype")) options.torch_dtype = kwargs["torch_dtype"].get<std::string>();
  if (kwargs.contains("variant")) options.variant = kwargs["variant"].get<std::string>();
  const std::string cls = family.substr(family.find('/') + 1);
  LoadingInfo info;
  auto model = load_model_class(cls, data_path(family + "/formats/" + folder), options, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());

  std::set<std::string> dtypes;
  for (const auto& p : model->parameters()) dtypes.insert(torch_dtype_name(p.scalar_type()));
  EXPECT_EQ(std::vector<std::string>(dtypes.begin(), dtypes.end()), c["param_dtypes"].get<std::vector<std::string>>());
  if (!c.contains("logits_dtype")) return;  // Python could not run the forward (fp16 on CPU)

  const auto reference = data_path(family + "/reference.safetensors");
  ModelInputs inputs;
  inputs.input_ids = testing::reference_tensor(reference, "input_ids");
  inputs.attention_mask = testing::reference_tensor(reference, "attention_mask");
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(inputs).logits();
  EXPECT_EQ(torch_dtype_name(logits.scalar_type()), c["logits_dtype"].get<std::string>());
  const at::Tensor expected = testing::reference_tensor(data_path(family + "/formats/logits.safetensors"), name);
  // bf16 runs the same libtorch kernels in the same order: equal, or within a bf16 rounding.
  const double atol = logits.scalar_type() == at::kFloat ? 1e-5 : 1e-2;
  EXPECT_TRUE(testing::tensors_close(logits, expected, atol)) << family << " " << name;
}

INSTANTIATE_TEST_SUITE_P(Formats, DecoderFormatLoads, ::testing::ValuesIn(load_cases()), [](const auto& info) {
  std::string n = info.param.first.substr(info.param.first.find('/') + 1) + "_" + info.param.second;
  std::replace(n.begin(), n.end(), '.', '_');
  return n;
});

}  // namespace
}  // namespace hfcpp
