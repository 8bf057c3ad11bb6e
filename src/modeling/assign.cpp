#include "hfcpp/modeling/assign.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

namespace hfcpp {

void assign_in_place(const at::Tensor& target, const at::Tensor& value) {
  // The same operation as Tensor.set_data, minus its check that both sides are dense tensors of
  // one backend kind, which refuses meta -> cpu. The autograd meta stays with `target`.
  at::Tensor source = value.is_leaf() ? value : value.detach();
  target.unsafeGetTensorImpl()->shallow_copy_from(source.getIntrusivePtr());
}

void copy_into(const at::Tensor& target, const at::Tensor& value) {
  if (target.is_meta()) {
    assign_in_place(target, value.to(target.scalar_type()));
    return;
  }
  c10::NoGradGuard no_grad;
  target.copy_(value);
}

}  // namespace hfcpp
