// Gradient (activation) checkpointing: torch.utils.checkpoint for hfcpp layers. A checkpointed
// layer keeps only its inputs during the forward pass; the backward pass runs it again, with the
// random-number state it first ran with (so dropout draws the same masks), and differentiates
// that second run. Gradients equal those of an ordinary run; memory drops from every layer's
// activations to one layer's.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace torch::nn {
class Module;
}

namespace hfcpp::nn {

// The modules whose layers a model checkpoints (BertEncoder, GPT2Model, LlamaModel). As in
// Transformers, `gradient_checkpointing` is set by PreTrainedModel::gradient_checkpointing_enable
// on every module that has it, and takes effect in training mode only.
struct GradientCheckpointingLayers {
  bool gradient_checkpointing = false;
  bool checkpoint_preserve_rng_state = true;  // torch.utils.checkpoint's preserve_rng_state
};

using CheckpointFunction = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>& inputs)>;

// Returns fn(inputs) without recording fn's graph. `module` owns every parameter fn uses: they
// are inputs of the checkpoint's autograd node, so their gradients flow through the ordinary
// engine (no reentrant accumulation), and they do even when no input requires a gradient
// (frozen embeddings), which torch.utils.checkpoint's reentrant variant gets wrong. The module
// is kept alive until the backward pass. Tensors fn captures (masks) are treated as constants.
// fn must return defined tensors. Without grad mode, this is fn(inputs).
std::vector<at::Tensor> checkpoint(torch::nn::Module& module, CheckpointFunction fn,
                                   const std::vector<at::Tensor>& inputs, bool preserve_rng_state = true);

}  // namespace hfcpp::nn
