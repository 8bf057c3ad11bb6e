// BERT (Transformers' modeling_bert.py): the encoder and its task heads. Module and parameter
// names equal Transformers', so state_dict() keys equal checkpoint keys.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hfcpp/modeling/modeling_utils.h"
#include "hfcpp/nn/layers.h"

namespace hfcpp {

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids, const at::Tensor& position_ids,
                     const at::Tensor& inputs_embeds, std::int64_t past_key_values_length = 0) const;
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
  std::string position_embedding_type;
};

class BertSelfAttention : public nn::Module {
 public:
  explicit BertSelfAttention(const PretrainedConfig& config);
  // Returns the context and the attention probabilities.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden_states, const at::Tensor& attention_mask,
                                            const at::Tensor& head_mask) const;
  std::int64_t num_attention_heads, attention_head_size, all_head_size;
  std::shared_ptr<nn::Linear> query, key, value;
  std::shared_ptr<nn::Dropout> dropout;
  std::string position_embedding_type;
  std::shared_ptr<nn::Embedding> distance_embedding;  // relative position types only
  std::int64_t max_position_embeddings;
};

class BertSelfOutput : public nn::Module {
 public:
  explicit BertSelfOutput(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& input_tensor) const;
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
};

class BertAttention : public nn::Module {
 public:
  explicit BertAttention(const PretrainedConfig& config);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden_states, const at::Tensor& attention_mask,
                                            const at::Tensor& head_mask) const;
  // Removes `heads` (indices in the unpruned layer) from query/key/value and output.dense.
  void prune_heads(const std::vector<std::int64_t>& heads);  // bert_pruning.cpp
  std::shared_ptr<BertSelfAttention> self_attention;  // "self"
  std::shared_ptr<BertSelfOutput> output;
  std::set<std::int64_t> pruned_heads;
};

class BertIntermediate : public nn::Module {
 public:
  explicit BertIntermediate(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states) const;
  std::shared_ptr<nn::Linear> dense;
  nn::Activation intermediate_act_fn;
};

class BertOutput : public nn::Module {
 public:
  explicit BertOutput(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& input_tensor) const;
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
};

class BertLayer : public nn::Module {
 public:
  explicit BertLayer(const PretrainedConfig& config);
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& hidden_states, const at::Tensor& attention_mask,
                                            const at::Tensor& head_mask) const;
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertOutput> output;
};

// Its layers run from BertModel::forward (the hooks of this module fire around them).
class BertEncoder : public nn::Module, public nn::GradientCheckpointingLayers {
 public:
  explicit BertEncoder(const PretrainedConfig& config);
  std::shared_ptr<nn::ModuleList<BertLayer>> layer;
};

class BertPooler : public nn::Module {
 public:
  explicit BertPooler(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states) const;
  std::shared_ptr<nn::Linear> dense;
};

class BertPredictionHeadTransform : public nn::Module {
 public:
  explicit BertPredictionHeadTransform(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states) const;
  std::shared_ptr<nn::Linear> dense;
  nn::Activation transform_act_fn;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

class BertLMPredictionHead : public nn::Module {
 public:
  explicit BertLMPredictionHead(const PretrainedConfig& config);
  at::Tensor forward(const at::Tensor& hidden_states) const;
  void tie_bias();  // decoder.bias is this head's bias (one parameter under two names)
  std::shared_ptr<BertPredictionHeadTransform> transform;
  std::shared_ptr<nn::Linear> decoder;
};

class BertOnlyMLMHead : public nn::Module {
 public:
  explicit BertOnlyMLMHead(const PretrainedConfig& config);
  std::shared_ptr<BertLMPredictionHead> predictions;
};

class BertPreTrainingHeads : public nn::Module {
 public:
  explicit BertPreTrainingHeads(const PretrainedConfig& config);
  std::shared_ptr<BertLMPredictionHead> predictions;
  std::shared_ptr<nn::Linear> seq_relationship;
};

// BertPreTrainedModel: weight initialisation and class attributes shared by the family.
class BertPreTrainedModel : public PreTrainedModel {
 public:
  using PreTrainedModel::PreTrainedModel;
  void init_module_weights(torch::nn::Module& module) override;
};

class BertModel : public BertPreTrainedModel {
 public:
  explicit BertModel(std::shared_ptr<PretrainedConfig> config, bool add_pooling_layer = true);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Embedding* get_input_embeddings() override { return embeddings->word_embeddings.get(); }
  void set_input_embeddings(std::shared_ptr<nn::Embedding> embeddings) override;
  void prune_base_heads(const HeadsToPrune& heads_to_prune) override;  // bert_pruning.cpp
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<BertPooler> pooler;  // null without the pooling layer
};

class BertForPreTraining : public BertPreTrainedModel {
 public:
  explicit BertForPreTraining(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Module* get_output_embeddings() override { return cls->predictions->decoder.get(); }
  void tie_weights_hook() override { cls->predictions->tie_bias(); }
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<BertPreTrainingHeads> cls;
};

class BertForMaskedLM : public BertPreTrainedModel {
 public:
  explicit BertForMaskedLM(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  nn::Module* get_output_embeddings() override { return cls->predictions->decoder.get(); }
  void tie_weights_hook() override { cls->predictions->tie_bias(); }
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<BertOnlyMLMHead> cls;
};

class BertForSequenceClassification : public BertPreTrainedModel {
 public:
  explicit BertForSequenceClassification(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;
};

class BertForTokenClassification : public BertPreTrainedModel {
 public:
  explicit BertForTokenClassification(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;
};

class BertForQuestionAnswering : public BertPreTrainedModel {
 public:
  explicit BertForQuestionAnswering(std::shared_ptr<PretrainedConfig> config);
  static const ModelClassInfo& class_info();
  ModelOutput forward(const ModelInputs& inputs) override;
  std::shared_ptr<BertModel> bert;
  std::shared_ptr<nn::Linear> qa_outputs;
};

}  // namespace hfcpp
