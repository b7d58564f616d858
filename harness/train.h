// Training and testing a classifier on tensors: the loop every eval protocol and feature extractor uses.
#pragma once
#include <functional>
#include <utility>
#include <vector>

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
  // IDC (train.py): `epochs` epochs exactly (range(1, epochs + 1)) instead of the VICO Epoch + 1.
  bool extra_epoch = true;
  // IDC's MultiStepLR(milestones, gamma), stepped after every epoch: the lr is multiplied by lr_gamma
  // once per milestone m (a 1-based epoch count) after epoch m, in place (the optimizer and its
  // momentum are kept). Empty: no such schedule (use with lr_drop = false).
  std::vector<int64_t> lr_milestones;
  double lr_gamma = 0.1;
  // PDD's progressive evaluation (evaluate_mtt.py: `optimizer.state = init_state` from the previous
  // stage): SGD momentum buffers carried from one train_classifier call to the next, one per parameter
  // in net.parameters() order. Non-null: read when it holds buffers (installed before the first step),
  // and filled with the buffers after the last epoch. One net only (the stacked loop refuses it).
  std::vector<torch::Tensor>* carried_momentum = nullptr;
  // IDC's CutMix (harness/augment/cutmix.h) on every batch after `augment`: with probability
  // cutmix_prob a box from a permuted batch (lam ~ Beta(cutmix_beta, cutmix_beta)) and the
  // area-weighted sum of the two cross-entropies. 0: off. Hard labels only; not with outliers.
  double cutmix_prob = 0;
  double cutmix_beta = 1.0;
};

// The optimizer of a TrainSchedule and its learning-rate changes, for every training loop (one net,
// or R stacked nets: harness/train_stacked.h): SGD(lr, momentum, weight decay); at the end of epoch
// lr_drop_epoch a new optimizer at lr x0.1 (the reference's: momentum buffers dropped); MultiStepLR's
// milestones in place (momentum kept).
class ScheduledSgd {
 public:
  ScheduledSgd(std::vector<torch::Tensor> params, const TrainSchedule& s);
  torch::optim::SGD& optimizer() { return *opt_; }
  void end_epoch(int64_t epoch);  // 0-based, after the epoch's steps

 private:
  std::vector<torch::Tensor> params_;
  const TrainSchedule& s_;
  double lr_;
  std::unique_ptr<torch::optim::SGD> opt_;
};

// Epochs a schedule trains: the reference's Epoch + 1, or exactly `epochs` (IDC).
inline int64_t total_epochs(const TrainSchedule& s) { return s.extra_epoch ? s.epochs + 1 : s.epochs; }

// The learning rate of epoch `epoch` (0-based) under s: s.lr, x0.1 after lr_drop_epoch(s.epochs) when
// lr_drop, x lr_gamma for every milestone m <= epoch (products in the order PyTorch's schedulers form them).
double scheduled_lr(const TrainSchedule& s, int64_t epoch);

// TrustDD's OE term: the cross-entropy between the uniform distribution and softmax(logits), averaged
// over the batch: mean_i (logsumexp(z_i) - mean_k z_ik) (reference: -(z.mean(1) - logsumexp(z, 1)).mean()).
torch::Tensor uniform_cross_entropy(const torch::Tensor& logits);

// The reference's evaluate_synset training loop. Labels: int64 [N] (hard) or float [N,K] (soft).
// Returns the last epoch's mean training loss; throws Diverged on a non-finite loss.
double train_classifier(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels,
                        const TrainSchedule& schedule, const ProgressFn& progress = nullptr,
                        const std::string& phase = "train");

// fn(batch) over `images` in batches of `batch` moved to `device`, the net in eval mode and inference
// mode (train mode again after); the outputs concatenated on the CPU. Embeddings, logits for OOD scores.
torch::Tensor map_batches(NetImpl& net, const torch::Tensor& images, torch::Device device, int64_t batch,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn);

// Top-1 accuracy in percent over the whole split, eval mode, inference mode. batch 0: test_batch_for.
double test_accuracy(NetImpl& net, const TensorSplit& split, torch::Device device, int64_t batch = 0);
// test_accuracy's automatic batch: 256 on the CPU (benchmarks/bench_eval.cpp BM_TestPass: 1,000 and
// 2,000 were 8% and 18% slower on 2 cores); elsewhere (GPUs) as many images as 2,000 at 28x28, at
// least 256. The count of correct argmaxes does not depend on it.
int64_t test_batch_for(const ImageShape& shape, torch::Device device);

// Epoch index (0-based) after which the lr drops: the reference's `Epoch // 2 + 1`.
inline int64_t lr_drop_epoch(int64_t epochs) { return epochs / 2 + 1; }

}  // namespace ddb
