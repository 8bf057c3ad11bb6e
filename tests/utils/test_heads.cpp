// The SQuAD heads and SequenceSummary against Transformers (utils/squad_head.safetensors,
// utils/sequence_summary.safetensors; calls described in utils/utils.json).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hfcpp/error.h"
#include "hfcpp/modeling/sequence_summary.h"
#include "hfcpp/modeling/squad_head.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;
using testing::reference_tensor;
using testing::tensors_close;
using testing::tensors_equal;

const std::filesystem::path& squad_file() {
  static const auto file = data_path("utils/squad_head.safetensors");
  return file;
}
at::Tensor squad(const std::string& name) { return reference_tensor(squad_file(), name); }

PretrainedConfig squad_config() {
  PretrainedConfig config;
  config.update({{"hidden_size", 32}, {"start_n_top", 3}, {"end_n_top", 3}, {"layer_norm_eps", 1e-12}});
  return config;
}

// The head with the fixture's weights (every parameter, by its Python name), in eval mode.
std::shared_ptr<SQuADHead> squad_head() {
  auto head = std::make_shared<SQuADHead>(squad_config());
  c10::NoGradGuard no_grad;
  int loaded = 0;
  for (auto& item : head->named_parameters()) {
    item.value().copy_(squad("weights." + item.key()));
    ++loaded;
  }
  EXPECT_EQ(loaded, 11);
  head->eval();
  return head;
}

SquadHeadInputs training_inputs() {
  SquadHeadInputs in;
  in.start_positions = squad("inputs.start_positions");
  in.end_positions = squad("inputs.end_positions");
  in.cls_index = squad("inputs.cls_index");
  in.is_impossible = squad("inputs.is_impossible");
  in.p_mask = squad("inputs.p_mask");
  return in;
}

TEST(SQuADHead, ParameterNamesArePythons) {
  SQuADHead head(squad_config());
  std::vector<std::string> names;
  for (const auto& item : head.named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "start_logits.dense.weight", "start_logits.dense.bias", "end_logits.dense_0.weight",
                       "end_logits.dense_0.bias", "end_logits.LayerNorm.weight", "end_logits.LayerNorm.bias",
                       "end_logits.dense_1.weight", "end_logits.dense_1.bias", "answer_class.dense_0.weight",
                       "answer_class.dense_0.bias", "answer_class.dense_1.weight"}));
}

TEST(SQuADHead, TrainingLossesEqualTransformers) {
  auto head = squad_head();
  const at::Tensor hidden = squad("inputs.hidden_states");
  c10::NoGradGuard no_grad;
  SquadHeadInputs in = training_inputs();
  EXPECT_TRUE(tensors_close(head->forward(hidden, in).loss(), squad("train.loss"), 1e-6));
  EXPECT_EQ(head->forward(hidden, in).names(), std::vector<std::string>{"loss"});

  SquadHeadInputs start_end = in;
  start_end.cls_index = at::Tensor();
  start_end.is_impossible = at::Tensor();
  EXPECT_TRUE(tensors_close(head->forward(hidden, start_end).loss(), squad("train.loss_start_end_only"), 1e-6));

  SquadHeadInputs no_p_mask = in;
  no_p_mask.p_mask = at::Tensor();
  EXPECT_TRUE(tensors_close(head->forward(hidden, no_p_mask).loss(), squad("train.loss_no_p_mask"), 1e-6));

  // Labels shaped [batch, 1] (as multi-GPU batch splitting leaves them) are squeezed.
  SquadHeadInputs columns = in;
  for (at::Tensor* t : {&columns.start_positions, &columns.end_positions, &columns.cls_index, &columns.is_impossible})
    *t = t->unsqueeze(-1);
  EXPECT_TRUE(tensors_close(head->forward(hidden, columns).loss(), squad("train.loss"), 1e-6));
  EXPECT_EQ(columns.start_positions.dim(), 2);  // the caller's tensors are left alone (Python squeezes in place)
}

TEST(SQuADHead, IntegerIsImpossibleIsAccepted) {
  // The docstring asks for a LongTensor; Transformers then raises "result type Float can't be cast
  // to the desired output type Long" (recorded in utils.json). hfcpp gives the float loss.
  auto head = squad_head();
  c10::NoGradGuard no_grad;
  SquadHeadInputs in = training_inputs();
  in.is_impossible = in.is_impossible.to(at::kLong);
  ASSERT_EQ(in.is_impossible.scalar_type(), at::kLong);
  EXPECT_TRUE(tensors_close(head->forward(squad("inputs.hidden_states"), in).loss(), squad("train.loss"), 1e-6));
}

void expect_inference_equal(const ModelOutput& out, const std::string& prefix) {
  EXPECT_EQ(out.names(), (std::vector<std::string>{"start_top_log_probs", "start_top_index", "end_top_log_probs",
                                                   "end_top_index", "cls_logits"}));
  for (const char* field : {"start_top_index", "end_top_index"})
    EXPECT_TRUE(tensors_equal(out.get(field), squad(prefix + field))) << prefix << field;
  for (const char* field : {"start_top_log_probs", "end_top_log_probs", "cls_logits"})
    EXPECT_TRUE(tensors_close(out.get(field), squad(prefix + field), 1e-6)) << prefix << field;
}

TEST(SQuADHead, BeamSearchEqualsTransformers) {
  auto head = squad_head();
  const at::Tensor hidden = squad("inputs.hidden_states");
  c10::NoGradGuard no_grad;
  SquadHeadInputs in;
  in.cls_index = squad("inputs.cls_index");
  in.p_mask = squad("inputs.p_mask");
  expect_inference_equal(head->forward(hidden, in), "inference.");
  expect_inference_equal(head->forward(hidden), "inference_no_mask_no_cls.");
  // Only one of start/end positions: still inference, as in Python.
  SquadHeadInputs start_only = in;
  start_only.start_positions = squad("inputs.start_positions");
  expect_inference_equal(head->forward(hidden, start_only), "inference.");
}

TEST(SQuADHead, TopLogProbsAreProbabilities) {
  // Transformers names them log-probs but returns softmax values; hfcpp keeps both (documented).
  auto head = squad_head();
  c10::NoGradGuard no_grad;
  const ModelOutput out = head->forward(squad("inputs.hidden_states"));
  for (const char* field : {"start_top_log_probs", "end_top_log_probs"}) {
    EXPECT_GT(out.get(field).min().item<float>(), 0.0f) << field;
    EXPECT_LE(out.get(field).max().item<float>(), 1.0f) << field;
  }
  // The three best starts of a row cannot hold more than all of the probability.
  EXPECT_LE(out.get("start_top_log_probs").sum(-1).max().item<float>(), 1.0f + 1e-6f);
}

TEST(SQuADHead, PoolersNeedAStart) {
  auto head = squad_head();
  const at::Tensor hidden = squad("inputs.hidden_states");
  EXPECT_THROW(head->end_logits->forward(hidden), ValueError);
  EXPECT_THROW(head->answer_class->forward(hidden), ValueError);
  PretrainedConfig no_top;
  no_top.set("hidden_size", 32);
  no_top.set("layer_norm_eps", 1e-12);
  EXPECT_ANY_THROW(SQuADHead{no_top});  // start_n_top / end_n_top are required, as in Python
}

TEST(PoolerEndLogits, StartPositionsWinOverStartStates) {
  auto head = squad_head();
  const at::Tensor hidden = squad("inputs.hidden_states");
  const at::Tensor positions = squad("inputs.start_positions");
  c10::NoGradGuard no_grad;
  const at::Tensor by_positions = head->end_logits->forward(hidden, {}, positions);
  const at::Tensor garbage_states = at::zeros_like(hidden);
  EXPECT_TRUE(tensors_equal(head->end_logits->forward(hidden, garbage_states, positions), by_positions));
  // The states of the start tokens, given directly, give the same logits.
  const at::Tensor states = hidden.gather(1, positions.view({-1, 1, 1}).expand({-1, hidden.size(1), hidden.size(2)}));
  EXPECT_TRUE(tensors_close(head->end_logits->forward(hidden, states), by_positions, 1e-6));
}

// --- SequenceSummary (also checked case by case in tests/models/test_gpt2.cpp) ---

TEST(SequenceSummary, LeadingChoiceDimensionsWithClsIndex) {
  // GPT2DoubleHeadsModel's use: hidden [batch, choices, seq, hidden], cls_index [batch, choices].
  const auto file = data_path("utils/sequence_summary.safetensors");
  PretrainedConfig config;
  config.update({{"hidden_size", 32}, {"summary_use_proj", true}, {"summary_activation", "tanh"},
                 {"summary_proj_to_labels", true}, {"summary_type", "cls_index"}});
  config.set_num_labels(3);
  SequenceSummary summary(config);
  summary.summary->set_param("weight", reference_tensor(file, "cls_index.weights.summary.weight"));
  summary.summary->set_param("bias", reference_tensor(file, "cls_index.weights.summary.bias"));
  summary.eval();
  const at::Tensor hidden = reference_tensor(file, "inputs.hidden_states");
  const at::Tensor cls_index = reference_tensor(file, "inputs.cls_index");
  c10::NoGradGuard no_grad;
  const at::Tensor choices = at::stack({hidden, hidden.flip(0)}, 1);    // [2, 2, 7, 32]
  const at::Tensor index = at::stack({cls_index, cls_index.flip(0)}, 1);  // [2, 2]
  const at::Tensor out = summary.forward(choices, index);
  const at::Tensor expected = reference_tensor(file, "cls_index.output");
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{2, 2, 3}));
  EXPECT_TRUE(tensors_close(out.select(1, 0), expected, 1e-6));
  EXPECT_TRUE(tensors_close(out.select(1, 1), expected.flip(0), 1e-6));
}

TEST(SequenceSummary, AttnIsAClearError) {
  PretrainedConfig config;
  config.set("hidden_size", 8);
  config.set("summary_type", "attn");
  try {
    SequenceSummary summary(config);
    FAIL() << "expected UnsupportedError";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("\"attn\" is not implemented"), std::string::npos) << e.what();
  }
  config.set("summary_type", "max");
  EXPECT_THROW(SequenceSummary{config}, ValueError);
}

}  // namespace
}  // namespace hfcpp
