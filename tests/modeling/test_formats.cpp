// BertForMaskedLM saved by Python in every format (tests/data/bert/BertForMaskedLM/formats):
// each loads with the dtypes Transformers gives and the same logits.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "hfcpp/error.h"
#include "hfcpp/models/bert.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

const std::filesystem::path kFormats = "bert/BertForMaskedLM/formats";

const nlohmann::json& loads() {
  static const nlohmann::json data =
      nlohmann::json::parse(testing::read_file(data_path((kFormats / "expected.json").string())))["loads"];
  return data;
}

std::vector<std::string> load_cases() {
  std::vector<std::string> names;
  for (const auto& [name, value] : loads().items())
    if (value.contains("param_dtypes")) names.push_back(name);
  return names;
}


class FormatLoads : public ::testing::TestWithParam<std::string> {};

TEST_P(FormatLoads, DtypesAndLogitsMatchTransformers) {
  const std::string name = GetParam();
  const std::string folder = name.substr(0, name.find('.'));
  const auto& c = loads()[name];
  FromPretrainedOptions options;
  const auto& kwargs = c["from_pretrained_kwargs"];
  if (kwargs.contains("torch_dtype")) options.torch_dtype = kwargs["torch_dtype"].get<std::string>();
  if (kwargs.contains("variant")) options.variant = kwargs["variant"].get<std::string>();
  LoadingInfo info;
  auto model = from_pretrained<BertForMaskedLM>(data_path((kFormats / folder).string()), options, &info);
  EXPECT_TRUE(info.missing_keys.empty() && info.unexpected_keys.empty() && info.mismatched_keys.empty());

  std::set<std::string> dtypes;
  for (const auto& p : model->parameters()) dtypes.insert(torch_dtype_name(p.scalar_type()));
  EXPECT_EQ(std::vector<std::string>(dtypes.begin(), dtypes.end()), c["param_dtypes"].get<std::vector<std::string>>());
  if (!c.contains("logits_dtype")) return;  // Python could not run the forward (fp16 on CPU)

  const auto reference = data_path("bert/BertForMaskedLM/reference.safetensors");
  ModelInputs inputs;
  inputs.input_ids = testing::reference_tensor(reference, "input_ids");
  inputs.attention_mask = testing::reference_tensor(reference, "attention_mask");
  inputs.token_type_ids = testing::reference_tensor(reference, "token_type_ids");
  c10::NoGradGuard no_grad;
  const at::Tensor logits = model->forward(inputs).logits();
  EXPECT_EQ(torch_dtype_name(logits.scalar_type()), c["logits_dtype"].get<std::string>());
  const at::Tensor expected = testing::reference_tensor(data_path((kFormats / "logits.safetensors").string()), name);
  // bf16 math is the same libtorch kernels: equal to the last bit or nearly so.
  const double atol = logits.scalar_type() == at::kFloat ? 1e-5 : 1e-2;
  EXPECT_TRUE(testing::tensors_close(logits, expected, atol)) << name;
}

INSTANTIATE_TEST_SUITE_P(Formats, FormatLoads, ::testing::ValuesIn(load_cases()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

TEST(FormatLoads, VariantFolderWithoutVariantIsAClearError) {
  try {
    from_pretrained<BertForMaskedLM>(data_path((kFormats / "variant_fp16").string()));
    FAIL();
  } catch (const FileError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no weights found"), std::string::npos) << what;
    EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("variant=\"fp16\""), std::string::npos) << what;
  }
}

TEST(FormatLoads, UseSafetensorsTrueRefusesBinOnlyFolders) {
  FromPretrainedOptions options;
  options.use_safetensors = true;
  EXPECT_THROW(from_pretrained<BertForMaskedLM>(data_path((kFormats / "bin").string()), options), FileError);
}

TEST(FormatLoads, GitLfsPointerIsDiagnosed) {
  testing::TempDir dir;
  std::filesystem::copy_file(data_path((kFormats / "safetensors/config.json").string()), dir / "config.json");
  testing::write_file(dir / "model.safetensors",
                      "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 85036\n");
  try {
    from_pretrained<BertForMaskedLM>(dir.path());
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("git-lfs"), std::string::npos) << e.what();
  }
}

TEST(FormatLoads, ZeroCopyAndCopyingLoadsAgree) {
  const auto folder = data_path((kFormats / "safetensors").string());
  auto mapped = from_pretrained<BertForMaskedLM>(folder);
  FromPretrainedOptions copy;
  copy.use_mmap = false;
  auto owned = from_pretrained<BertForMaskedLM>(folder, copy);
  auto a = mapped->state_dict();
  auto b = owned->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(testing::tensors_equal(item.value(), b[item.key()])) << item.key();
}

}  // namespace
}  // namespace hfcpp
