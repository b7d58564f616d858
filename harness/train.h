// Training and testing a classifier on tensors: the loop every eval protocol and feature extractor uses.
#pragma once
#include <functional>
#include <utility>

#include "harness/nets/net.h"
#include "harness/progress.h"
#include "harness/types.h"

namespace ddb {

struct TrainSchedule {
  int64_t epochs = 300;        // the reference's `Epoch`: Epoch + 1 epochs are trained
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  int64_t batch = 256;
  bool lr_drop = true;         // lr x0.1 after epoch Epoch//2 + 1, with a new optimizer (momentum reset)
  std::function<torch::Tensor(const torch::Tensor&)> augment;  // applied per batch in training
  // Applied per (images, labels) batch before `augment`; may change the batch size (FYI doubles it).
  std::function<std::pair<torch::Tensor, torch::Tensor>(torch::Tensor, torch::Tensor)> batch_transform;
};

// The reference's evaluate_synset training loop. Labels: int64 [N] (hard) or float [N,K] (soft).
// Returns the last epoch's mean training loss; throws Diverged on a non-finite loss.
double train_classifier(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels,
                        const TrainSchedule& schedule, const ProgressFn& progress = nullptr,
                        const std::string& phase = "train");

// Top-1 accuracy in percent over the whole split, eval mode, no grad.
double test_accuracy(NetImpl& net, const TensorSplit& split, torch::Device device, int64_t batch = 256);

// Epoch index (0-based) after which the lr drops: the reference's `Epoch // 2 + 1`.
inline int64_t lr_drop_epoch(int64_t epochs) { return epochs / 2 + 1; }

}  // namespace ddb
