// The finite ConvNet KIP's sets are transferred to (google-research kip/nn_training.ipynb ConvNet, standard
// parameterisation): an optional prepended [conv 3x3 SAME, ReLU], `depth` blocks of [conv 3x3 SAME, ReLU,
// AvgPool 2x2], Flatten, Dense -- no normalisation, weights N(0, W_std^2 / fan_in) with W_std sqrt 2, biases
// N(0, 0.1^2) (stax's initialisation). Registered as KipConvNet (width 1024, the notebook's), KipConvNet3 (no
// prepended conv) and KipConvNetW128 (a narrower one for CPU runs).
#pragma once
#include <vector>

#include "harness/nets/net.h"

namespace ddb::nets {

class KipConvNet : public NetImpl {
 public:
  KipConvNet(int64_t width, int64_t depth, bool prepend_conv, const ImageShape& shape, int64_t num_classes);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor embed(torch::Tensor x) override;  // the flattened last block

 private:
  bool prepend_;
  std::vector<torch::nn::Conv2d> convs_;
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace ddb::nets
