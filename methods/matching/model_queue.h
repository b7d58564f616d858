// IDM's memory-efficient model queue (paper Sec. 4.2, Alg. 1; reference uitrbn/IDM IDM_cifar10.py
// `net_list` / `optimizer_list` / `acc_meters`): networks at different stages of training, from
// which the matching networks are sampled. Push adds a freshly initialised network (dropping the
// oldest first when the queue is full), Train gives a member SGD steps on real batches, Sample/pick
// draws distinct members at random.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "harness/nets/net.h"

namespace ddb {

struct QueuedModel {
  int64_t id = 0;                                  // push order, 0-based (for logs and tests)
  Net net;
  std::unique_ptr<torch::optim::SGD> optimizer;    // kept with the net: momentum survives between Train calls
  int64_t steps_trained = 0;
  // Running top-1 accuracy on the batches it was trained on since the last reset (the reference's
  // torchnet ClassErrorMeter(accuracy=True); value()[0] is in percent, 0 when nothing was added).
  int64_t correct = 0;
  int64_t seen = 0;
  double accuracy_percent() const { return seen == 0 ? 0.0 : 100.0 * static_cast<double>(correct) / seen; }
};

struct ModelQueueConfig {
  std::string net = "ConvNet";
  ImageShape shape;
  int64_t num_classes = 10;
  int64_t capacity = 100;       // N_max (reference --net_num)
  double lr = 0.01;             // reference --lr_net
  double momentum = 0.9;        // --net_decay: SGD(momentum=0.9, weight_decay=0.0005)
  double weight_decay = 5e-4;
  torch::Device device = torch::kCPU;
};

// Draws one training batch of n real images: (images [n, C, H, W], int64 labels [n]).
using BatchSampler = std::function<std::pair<torch::Tensor, torch::Tensor>(int64_t n)>;

class ModelQueue {
 public:
  // `seed` drives the choice of members (the reference's random.shuffle); network initialisation
  // uses the global torch RNG like every make_net.
  ModelQueue(ModelQueueConfig config, uint64_t seed);

  // A freshly initialised network (train mode) with its own optimizer; when the queue already holds
  // `capacity` networks the oldest is removed first, so the size never exceeds capacity.
  void push();
  size_t size() const { return models_.size(); }
  QueuedModel& at(size_t i) { return models_.at(i); }
  const QueuedModel& at(size_t i) const { return models_.at(i); }

  // min(k, size) distinct member indices in random order (reference: shuffle the indices, take [:k]).
  std::vector<size_t> pick(int64_t k);

  // `steps` SGD steps of cross-entropy on batches of `batch` images from `sample`, train mode,
  // updating the member's running accuracy with each batch's predictions (before the step).
  // `loss` (optional) turns the batch's logits into the scalar minimised (default: mean CE); a
  // matching modifier's network objective (RDD) comes in here. Its arguments: the member's net, the
  // batch, its labels, the logits, the step index.
  using LossFn = std::function<torch::Tensor(NetImpl&, const torch::Tensor&, const torch::Tensor&,
                                             const torch::Tensor&, int64_t)>;
  void train(size_t index, int64_t steps, int64_t batch, const BatchSampler& sample, const LossFn& loss = nullptr);

  // Resets every member's running accuracy (the reference resets its meters at each evaluation).
  void reset_accuracy();

  const ModelQueueConfig& config() const { return config_; }

 private:
  ModelQueueConfig config_;
  std::deque<QueuedModel> models_;
  std::mt19937_64 rng_;
  int64_t next_id_ = 0;
};

// Disables gradients of a network's parameters for its lifetime (the matching step treats the
// sampled network as a fixed feature extractor), restoring them after.
class FrozenParameters {
 public:
  explicit FrozenParameters(NetImpl& net);
  ~FrozenParameters();
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<bool> before_;
};

}  // namespace ddb
