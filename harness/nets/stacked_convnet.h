// R ConvNets of one configuration as one model: the evaluation runs of a job trained together
// (harness/train_stacked.h). Each block's convolution is one grouped convolution (groups = R) over the
// runs' channels side by side, the norms are per channel (GroupNorm with R x its groups, BatchNorm over
// R x width channels: the same statistics as each net's own), and the classifier is one batched matrix
// product. No parameter is shared: run r's gradient is its own net's gradient, so SGD with momentum
// and weight decay (element-wise) updates each run as it would alone. Only the float rounding of the
// grouped kernels differs from the sequential path (tests/nets/test_stacked_convnet.cpp says how much).
//
// Why: at the literature's IPC <= 10 an evaluation step is a batch of 10-100 images; R of them in one
// kernel keep a GPU busy where one leaves it mostly idle.
#pragma once
#include <string>
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

// Empty when `nets` (>= 1, all built by make_net with one name and shape) can be stacked; else the
// reason, e.g. "ResNet18 is not a ConvNet" or "LayerNorm's element-wise affine is not per channel".
std::string stacking_unsupported(const std::vector<Net>& nets);

class StackedConvNetImpl : public torch::nn::Module {
 public:
  // Copies the nets' parameters and buffers (throws UserError where stacking_unsupported says why).
  explicit StackedConvNetImpl(const std::vector<Net>& nets);
  // x [R, b, C, H, W], run r's batch at x[r] -> logits [R, b, K].
  torch::Tensor forward(const torch::Tensor& x);
  // Writes the stacked parameters and buffers back into the nets it was built from (same order).
  void unstack_into(const std::vector<Net>& nets) const;
  int64_t runs() const { return runs_; }

 private:
  struct Block {
    torch::Tensor conv_weight, conv_bias;  // [R*W, Cin, 3, 3], [R*W]
    int64_t padding = 1;
    torch::Tensor norm_weight, norm_bias;  // [R*W] (undefined without a norm)
    torch::Tensor running_mean, running_var;  // BatchNorm only
    enum class Norm { None, Group, Batch } norm = Norm::None;
    int64_t groups = 0;                    // GroupNorm: R x the net's groups
    double eps = 1e-5, momentum = 0.1;
    bool fused_tail = false;               // instancenorm -> relu -> avgpool as one kernel
    torch::nn::AnyModule act, pool;        // stateless, element-/channel-wise: the first net's own
    bool has_pool = false;
  };
  int64_t runs_ = 0, width_ = 0;
  std::vector<Block> blocks_;
  torch::Tensor classifier_weight_, classifier_bias_;  // [R, K, F], [R, K]
  int64_t batches_tracked_ = 0;  // BatchNorm's num_batches_tracked, the same for every run
};
TORCH_MODULE(StackedConvNet);

}  // namespace ddb
