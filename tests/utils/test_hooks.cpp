// Forward hooks of nn::Module (what libtorch lacks) and Transformers' memory hooks on top of them.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "hfcpp/generation/generate.h"
#include "hfcpp/models/bert.h"
#include "hfcpp/models/llama.h"
#include "test_support.h"

namespace hfcpp {
namespace {

using testing::data_path;

ModelInputs bert_inputs() {
  const auto reference = data_path("bert/BertModel/reference.safetensors");
  ModelInputs inputs;
  inputs.input_ids = testing::reference_tensor(reference, "input_ids");
  inputs.attention_mask = testing::reference_tensor(reference, "attention_mask");
  inputs.token_type_ids = testing::reference_tensor(reference, "token_type_ids");
  return inputs;
}

// Llama's decoding steps run on kernels that skip the layers' and the LM head's forwards; hooks on
// them must still fire every step (the step then takes those forwards), with the same tokens.
TEST(ForwardHooks, FireInEveryDecodingStepOfALlama) {
  auto model = from_pretrained<LlamaForCausalLM>(data_path("llama/LlamaForCausalLM/ckpt"));
  const at::Tensor prompt = at::tensor({5, 9, 2, 7}, at::kLong).view({1, 4});
  GenerateOptions options;
  options.generation_kwargs = {{"max_new_tokens", 5}, {"eos_token_id", nullptr}, {"pad_token_id", 0},
                               {"cache_implementation", "static"}};
  const at::Tensor plain = generate(*model, prompt, {}, options).sequences;
  EXPECT_FALSE(nn::Module::any_forward_hooks());

  int q_calls = 0, head_calls = 0, norm_calls = 0;
  nn::Linear& q_proj = *(*model->model->layers)[0].self_attn->q_proj;
  const std::size_t q_hook = q_proj.register_forward_hook([&](nn::Module&, at::Tensor*) { ++q_calls; });
  const std::size_t head_hook = model->lm_head->register_forward_hook([&](nn::Module&, at::Tensor*) { ++head_calls; });
  const std::size_t norm_hook = model->model->norm->register_forward_pre_hook([&](nn::Module&) { ++norm_calls; });
  EXPECT_TRUE(nn::Module::any_forward_hooks());
  const at::Tensor hooked = generate(*model, prompt, {}, options).sequences;
  EXPECT_EQ(q_calls, 5);  // the prompt, then four steps
  EXPECT_EQ(head_calls, 5);
  EXPECT_EQ(norm_calls, 5);
  EXPECT_TRUE(hooked.equal(plain)) << hooked << plain;

  EXPECT_TRUE(q_proj.remove_forward_hook(q_hook));
  EXPECT_TRUE(model->lm_head->remove_forward_hook(head_hook));
  EXPECT_TRUE(model->model->norm->remove_forward_hook(norm_hook));
  EXPECT_FALSE(nn::Module::any_forward_hooks());
}

TEST(ForwardHooks, EveryModuleFiresOnceNestedAsPython) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  std::vector<std::string> events;
  std::set<std::string> all;
  for (const auto& [name, module] : nn::named_modules(*model)) {
    all.insert(name);
    auto* ours = dynamic_cast<nn::Module*>(module);
    ASSERT_NE(ours, nullptr) << name;
    ours->register_forward_pre_hook([&events, name = name](nn::Module&) { events.push_back("pre " + name); });
    ours->register_forward_hook([&events, name = name](nn::Module&, at::Tensor*) { events.push_back("post " + name); });
  }
  c10::NoGradGuard no_grad;
  model->forward(bert_inputs());

  // Pre and post hooks nest like calls, and each module runs once: every module but the
  // encoder.layer ModuleList, which Python never calls either.
  std::vector<std::string> stack;
  std::multiset<std::string> fired;
  for (const std::string& e : events) {
    if (e.rfind("pre ", 0) == 0) {
      stack.push_back(e.substr(4));
      fired.insert(e.substr(4));
    } else {
      ASSERT_FALSE(stack.empty());
      EXPECT_EQ(stack.back(), e.substr(5));
      stack.pop_back();
    }
  }
  EXPECT_TRUE(stack.empty());
  std::set<std::string> expected = all;
  expected.erase("encoder.layer");
  EXPECT_EQ(std::set<std::string>(fired.begin(), fired.end()), expected);
  EXPECT_EQ(fired.size(), expected.size());  // none twice
  EXPECT_EQ(events.front(), "pre ");
  EXPECT_EQ(events[1], "pre embeddings");
  EXPECT_EQ(events[2], "pre embeddings.word_embeddings");
  EXPECT_EQ(events.back(), "post ");
}

TEST(ForwardHooks, PostHookSeesAndReplacesTheOutput) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  c10::NoGradGuard no_grad;
  const at::Tensor plain = model->forward(bert_inputs()).get("pooler_output");
  at::Tensor seen;
  const std::size_t id = model->pooler->register_forward_hook([&](nn::Module&, at::Tensor* output) {
    ASSERT_NE(output, nullptr);
    seen = *output;
    *output = at::zeros_like(*output);
  });
  const at::Tensor hooked = model->forward(bert_inputs()).get("pooler_output");
  EXPECT_TRUE(testing::tensors_equal(seen, plain));
  EXPECT_EQ(hooked.abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(model->pooler->remove_forward_hook(id));
  EXPECT_FALSE(model->pooler->remove_forward_hook(id));
  EXPECT_FALSE(model->pooler->has_forward_hooks());
  EXPECT_TRUE(testing::tensors_equal(model->forward(bert_inputs()).get("pooler_output"), plain));
}

TEST(ForwardHooks, RunInRegistrationOrderAndMayRemoveThemselves) {
  nn::Linear linear(2, 2);
  std::vector<int> order;
  std::size_t first = 0;
  first = linear.register_forward_pre_hook([&](nn::Module& m) {
    order.push_back(1);
    m.remove_forward_hook(first);  // one-shot
  });
  linear.register_forward_pre_hook([&](nn::Module&) { order.push_back(2); });
  linear.register_forward_hook([&](nn::Module&, at::Tensor* out) { order.push_back(out != nullptr ? 3 : -3); });
  c10::NoGradGuard no_grad;
  linear.forward(at::ones({1, 2}));
  linear.forward(at::ones({1, 2}));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 2, 3}));
}

TEST(ForwardHooks, NoPostHookWhenTheForwardThrows) {
  nn::Linear linear(2, 2);
  int pre = 0, post = 0;
  linear.register_forward_pre_hook([&](nn::Module&) { ++pre; });
  linear.register_forward_hook([&](nn::Module&, at::Tensor*) { ++post; });
  EXPECT_ANY_THROW(linear.forward(at::ones({1, 3})));  // wrong width
  EXPECT_EQ(pre, 1);
  EXPECT_EQ(post, 0);
}

// A model whose forward grows the resident set by a known amount.
class Allocating : public PreTrainedModel {
 public:
  static const ModelClassInfo& class_info() {
    static const ModelClassInfo info = [] {
      ModelClassInfo i;
      i.name = "Allocating";
      return i;
    }();
    return info;
  }
  explicit Allocating(std::shared_ptr<PretrainedConfig> config) : PreTrainedModel(std::move(config), class_info()) {
    inner = register_module("inner", std::make_shared<nn::Linear>(4, 4));
  }
  ModelOutput forward(const ModelInputs&) override {
    nn::ForwardScope hooks(*this);
    kept.push_back(at::ones({kBytes / 4}, at::kFloat));  // written, so resident; kept alive
    return {};
  }
  void init_module_weights(torch::nn::Module&) override {}
  static constexpr std::int64_t kBytes = 64 << 20;
  std::shared_ptr<nn::Linear> inner;
  std::vector<at::Tensor> kept;
};

TEST(MemoryHooks, RecordRssPerModuleAndAccumulateUntilReset) {
  Allocating model(std::make_shared<PretrainedConfig>());
  model.add_memory_hooks();
  model.add_memory_hooks();  // idempotent: Python would register twice and count twice
  EXPECT_EQ(model.mem_rss_diff, 0);
  model.forward({});
  EXPECT_GT(model.mem_rss_pre_forward, 0);
  EXPECT_EQ(model.mem_rss_diff, model.mem_rss_post_forward - model.mem_rss_pre_forward);
  const std::int64_t first = model.mem_rss_diff;
  EXPECT_GE(first, Allocating::kBytes);
  EXPECT_LT(first, Allocating::kBytes + (16 << 20));
  EXPECT_EQ(model.inner->mem_rss_pre_forward, 0);  // never called

  model.forward({});
  EXPECT_EQ(model.mem_rss_diff, first + model.mem_rss_post_forward - model.mem_rss_pre_forward);
  EXPECT_GE(model.mem_rss_diff, 2 * Allocating::kBytes);

  model.reset_memory_hooks_state();
  EXPECT_EQ(model.mem_rss_diff, 0);
  EXPECT_EQ(model.mem_rss_pre_forward, 0);
  EXPECT_EQ(model.mem_rss_post_forward, 0);
}

TEST(MemoryHooks, EveryCalledModuleOfBertRecords) {
  auto model = from_pretrained<BertModel>(data_path("bert/BertModel/ckpt"));
  model->add_memory_hooks();
  c10::NoGradGuard no_grad;
  model->forward(bert_inputs());
  for (const auto& [name, module] : nn::named_modules(*model)) {
    auto& m = dynamic_cast<nn::Module&>(*module);
    if (name == "encoder.layer") {
      EXPECT_EQ(m.mem_rss_pre_forward, 0);
      continue;
    }
    EXPECT_GT(m.mem_rss_pre_forward, 0) << name;
    EXPECT_GT(m.mem_rss_post_forward, 0) << name;
    EXPECT_EQ(m.mem_rss_diff, m.mem_rss_post_forward - m.mem_rss_pre_forward) << name;
  }
}

}  // namespace
}  // namespace hfcpp
