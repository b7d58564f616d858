// The infinite-width kernels (NNGP and NTK) of KIP's ConvNet (Nguyen et al. 2021, "Dataset Distillation with
// Infinitely Wide Convolutional Networks"; google-research kip/nn_training.ipynb ConvNet): an optional
// prepended [conv 3x3 SAME, ReLU], then `depth` blocks of [conv 3x3 SAME, ReLU, AvgPool 2x2 stride 2 VALID],
// Flatten, Dense -- in the NTK parameterisation with W_std sqrt(2), b_std 0.1, as neural_tangents' stax
// computes it (NNGP through conv: W_std^2 * mean over the 3x3 window of the input covariance + b_std^2; NTK:
// the layer's NNGP + W_std^2 * the windowed NTK; ReLU: the arc-cosine kernel of order 1).
//
// Why banded: the flattened readout only reads the covariance of a pixel with the same pixel of the other
// image, and each pool widens what an earlier layer must hold by a factor 2 (+1), so at full resolution only
// pixel pairs within 2^depth - 1 rows and columns of each other matter (15 x 15 offsets for depth 3 instead of
// every one of the H*W x H*W pairs). The kernel is computed on those offsets only, in float64 (KIP's colab
// enables x64 for the solve's sake), and is differentiable in both inputs.
#pragma once
#include <vector>

#include "harness/types.h"

namespace ddb {

struct ConvNtkConfig {
  int64_t depth = 3;
  bool prepend_conv = true;  // KIP's 'ConvNet' (true) or 'ConvNet3' (false)
  double w_std = 1.4142135623730951;
  double b_std = 0.1;
};

enum class KernelKind { Nngp, Ntk };

class ConvNetKernel {
 public:
  explicit ConvNetKernel(ConvNtkConfig config = {});

  // The per-pixel variance of each image at the input of every ReLU (the NNGP of the image with itself
  // there), [n, H_l, W_l] float64 each, first ReLU first: what cross() needs of each side. Differentiable.
  std::vector<torch::Tensor> variances(const torch::Tensor& x) const;

  // The kernel between every image of x1 [n1,C,H,W] and of x2 [n2,C,H,W]: [n1, n2] float64. v1 / v2 are
  // variances() of x1 / x2 (computed once and shared by many blocks of a large kernel matrix).
  torch::Tensor cross(const torch::Tensor& x1, const torch::Tensor& x2, const std::vector<torch::Tensor>& v1,
                      const std::vector<torch::Tensor>& v2, KernelKind kind) const;

  // cross() with the variances computed here.
  torch::Tensor operator()(const torch::Tensor& x1, const torch::Tensor& x2, KernelKind kind) const;

  const ConvNtkConfig& config() const { return config_; }
  // The offset radius the first layer needs (2^depth - 1).
  int64_t input_radius() const;

 private:
  ConvNtkConfig config_;
};

}  // namespace ddb
