// CAFE (Wang et al., CVPR 2022): the pieces of its matching step, exposed for tests; the method
// `cafe` (cafe.cpp, where the reference facts are listed) is the loop around them.
#pragma once
#include <cstdint>
#include <deque>
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

// One forward of a ConvNet-family net keeping what CAFE aligns (the reference's ConvNet.forward
// returns [f5, f4, f3, f2, f1]):
//   layers[0]  the last block's output after its pool (f4),
//   layers[1]  the last block's activation, before its pool (f3),
//   layers[2]  the block before it, before its pool (f2),
//   layers[3]  the block before that (f1);
// a net with fewer blocks has fewer entries (a deeper one: only these four, as the reference's
// slicing from the end keeps). embedding = layers[0] flattened (f5); logits = classifier(embedding).
struct CafeFeatures {
  std::vector<torch::Tensor> layers;
  torch::Tensor embedding;
  torch::Tensor logits;
};
// Whether cafe_features() can read `net`'s layers (the ConvNet family of make_net).
bool cafe_supports(NetImpl& net);
// Throws UserError for nets outside the ConvNet family.
CafeFeatures cafe_features(NetImpl& net, const torch::Tensor& x);

// One class's layer-wise alignment (the reference's criterion_middle per layer, weighted):
// sum_l weights[l] * sum((mean_0(real[l]) - mean_0(syn[l]))^2). real[l] may already be a class mean
// ([1, ...]). Layers beyond weights.size() or beyond either list are not aligned.
torch::Tensor layer_alignment(const std::vector<torch::Tensor>& real, const std::vector<torch::Tensor>& syn,
                              const std::vector<double>& weights);

// The discrimination loss: every real embedding classified by its inner products with the synthetic
// class centres (logits = real_embed @ centres^T, no temperature), the cross-entropy summed over the
// real samples. real_embed [N, D], real_labels int64 [N], centres [K, D].
torch::Tensor discrimination_loss(const torch::Tensor& real_embed, const torch::Tensor& real_labels,
                                  const torch::Tensor& centres);

// The dynamic bi-level loop's stopping rule. Each round the caller pushes the mean over classes of
// the net's accuracy on fresh real images; the watched value carries the previous one over as the
// reference's accumulator does (value = accuracy + previous value / num_classes: the sum is not reset
// between rounds). Once `window` values are held, the loop stops when their range is below the
// threshold (Steady: the outer loop, lambda_1) or above it (Moved: the inner loop, lambda_2);
// otherwise the oldest value leaves the window.
class AccuracyWatcher {
 public:
  enum class Stop { Steady, Moved };
  AccuracyWatcher(int64_t window, double threshold, Stop when, int64_t num_classes);
  // Returns true when the loop should stop here.
  bool push(double mean_accuracy);
  double value() const { return value_; }

 private:
  int64_t window_;
  double threshold_;
  Stop when_;
  int64_t num_classes_;
  double value_ = 0;
  std::deque<double> held_;
};

}  // namespace ddb
