// KIP's objective (Nguyen et al. 2021; google-research kip/KIP.ipynb loss_acc_fn): kernel ridge regression
// from the support set to a target batch, pred = K_ts (K_ss + |reg| tr(K_ss)/n I)^-1 y_s, loss
// 0.5 * mean((pred - y_t)^2) -- with its gradient computed block by block so that the kernel's pair tensors
// never have to fit in memory at once.
#pragma once
#include "methods/bilevel/convnet_ntk.h"

namespace ddb {

struct KipObjective {
  double loss = 0;
  double accuracy = 0;  // percent of the target batch whose argmax prediction is its argmax label
};

// Evaluates the objective for support images `xs` [n,C,H,W] with labels `ys` [n,K] against targets `xt`, `yt`
// [T,K], and accumulates its gradient into xs.grad() (and ys.grad() when ys requires grad). Two passes: the
// kernel matrices without a graph, the gradient of the loss with respect to them, then each block of at most
// `block_pairs` image pairs again with a graph, back-propagated with its share (the support variances once,
// at the end).
KipObjective kip_objective(const ConvNetKernel& kernel, KernelKind kind, const torch::Tensor& xs, const torch::Tensor& ys,
                           const torch::Tensor& xt, const torch::Tensor& yt, double reg, int64_t block_pairs);

}  // namespace ddb
