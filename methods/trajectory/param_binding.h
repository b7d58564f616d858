// A network run with its parameters taken from one flat tensor: the C++ counterpart of MTT's
// ReparamModule (reparam_module.py), which the trajectory-matching student needs so that the
// parameters after each unrolled SGD step are a differentiable function of the synthetic images
// and the learnable learning rate.
//
// How: LibTorch's Conv2d / Linear / GroupNorm / BatchNorm2d / LayerNorm read their public `weight`
// and `bias` members in forward(). Binding reassigns those members to views into the flat tensor
// (in net.parameters() order, the order flatten_parameters in methods/trajectory/experts.h uses), so
// net.forward(x) computes with the flat tensor and autograd reaches it. Unbinding puts the
// module's own parameters back; the registered parameters are never touched.
#pragma once
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

class ParamBinding {
 public:
  // Throws UserError when the net holds a parameterised module other than the five above.
  explicit ParamBinding(NetImpl& net);
  ~ParamBinding() { unbind(); }
  ParamBinding(const ParamBinding&) = delete;
  ParamBinding& operator=(const ParamBinding&) = delete;

  // Total number of scalar parameters (length of the flat vector).
  int64_t numel() const { return numel_; }
  // The net's own parameters concatenated in binding order (detached copy).
  torch::Tensor flat_parameters() const;
  // net.forward(x) with every parameter a view of `flat` (1-D, numel() elements, any dtype/device
  // the net's modules accept). The net's own parameters are restored before returning.
  torch::Tensor forward(const torch::Tensor& flat, const torch::Tensor& x);

  // Lower-level: make the modules read from `flat` until unbind() (forward() does both).
  void bind(const torch::Tensor& flat);
  void unbind();

 private:
  struct Slot {
    torch::Tensor* member;    // the module's `weight` or `bias` field
    torch::Tensor original;   // the registered parameter, restored by unbind()
    int64_t offset = 0;
    std::vector<int64_t> shape;
  };
  NetImpl& net_;
  std::vector<Slot> slots_;
  int64_t numel_ = 0;
  bool bound_ = false;
};

}  // namespace ddb
