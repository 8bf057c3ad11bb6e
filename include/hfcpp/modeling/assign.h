// Putting loaded tensors into a module's parameters and buffers.
#pragma once

#include <ATen/core/Tensor.h>

namespace hfcpp {

// Makes `target` hold `value`'s data, dtype, device and shape while keeping its identity (the same
// TensorImpl): every module that shares the parameter (tied weights) sees the new data, autograd
// flags survive, and a meta-device placeholder becomes a real tensor without copying bytes.
void assign_in_place(const at::Tensor& target, const at::Tensor& value);

// Copies `value` into `target`'s existing memory, converting dtype and device as needed (what
// Python's load_state_dict does); a meta-device target is assigned instead, since it has no memory.
void copy_into(const at::Tensor& target, const at::Tensor& value);

}  // namespace hfcpp
