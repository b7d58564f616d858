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
  // Outlier exposure (TrustDD epoch_oe): when `outliers` is defined and lambda_oe > 0, every step pairs
  // an in-distribution batch with a batch of these unlabelled images (their own shuffled loader of the
  // same batch size; the steps of an epoch are the shorter loader's, as Python's zip), augments each
  // batch separately, runs both through the net in one forward, and minimises
  // CE(in) + lambda_oe * H(U; softmax(f(out))).
  torch::Tensor outliers;
  double lambda_oe = 0;
  // Called after each epoch (0-based index, before the lr drop): checkpoint selection.
  std::function<void(int64_t epoch)> after_epoch;
};

// TrustDD's OE term: the cross-entropy between the uniform distribution and softmax(logits), averaged
// over the batch: mean_i (logsumexp(z_i) - mean_k z_ik) (reference: -(z.mean(1) - logsumexp(z, 1)).mean()).
torch::Tensor uniform_cross_entropy(const torch::Tensor& logits);

// The reference's evaluate_synset training loop. Labels: int64 [N] (hard) or float [N,K] (soft).
// Returns the last epoch's mean training loss; throws Diverged on a non-finite loss.
double train_classifier(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels,
                        const TrainSchedule& schedule, const ProgressFn& progress = nullptr,
                        const std::string& phase = "train");

// fn(batch) over `images` in batches of `batch` moved to `device`, the net in eval mode and no grad (train
// mode again after); the outputs concatenated on the CPU. Embeddings, logits for OOD scores.
torch::Tensor map_batches(NetImpl& net, const torch::Tensor& images, torch::Device device, int64_t batch,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn);

// Top-1 accuracy in percent over the whole split, eval mode, no grad.
double test_accuracy(NetImpl& net, const TensorSplit& split, torch::Device device, int64_t batch = 256);

// Epoch index (0-based) after which the lr drops: the reference's `Epoch // 2 + 1`.
inline int64_t lr_drop_epoch(int64_t epochs) { return epochs / 2 + 1; }

}  // namespace ddb
