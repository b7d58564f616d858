#include "methods/matching/model_queue.h"

#include <algorithm>
#include <numeric>

namespace ddb {

ModelQueue::ModelQueue(ModelQueueConfig config, uint64_t seed) : config_(std::move(config)), rng_(seed) {
  if (config_.capacity < 1) throw UserError("queue_size must be >= 1, got " + std::to_string(config_.capacity));
}

void ModelQueue::push() {
  // Reference: `if len(net_list) == net_num: net_list.pop(0)` before appending the new network.
  while (static_cast<int64_t>(models_.size()) >= config_.capacity) models_.pop_front();
  QueuedModel m;
  m.id = next_id_++;
  m.net = make_net(config_.net, config_.shape, config_.num_classes);
  m.net->to(config_.device);
  m.net->train();
  m.optimizer = std::make_unique<torch::optim::SGD>(
      m.net->parameters(),
      torch::optim::SGDOptions(config_.lr).momentum(config_.momentum).weight_decay(config_.weight_decay));
  models_.push_back(std::move(m));
}

std::vector<size_t> ModelQueue::pick(int64_t k) {
  std::vector<size_t> idx(models_.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), rng_);
  idx.resize(std::min<size_t>(idx.size(), static_cast<size_t>(std::max<int64_t>(k, 0))));
  return idx;
}

void ModelQueue::train(size_t index, int64_t steps, int64_t batch, const BatchSampler& sample, const LossFn& loss_fn) {
  QueuedModel& m = models_.at(index);
  m.net->train();
  for (int64_t s = 0; s < steps; ++s) {
    auto [x, y] = sample(batch);
    x = x.to(config_.device);
    y = y.to(config_.device);
    const torch::Tensor logits = m.net->forward(x);
    const torch::Tensor loss = loss_fn ? loss_fn(*m.net, x, y, logits, s) : torch::nn::functional::cross_entropy(logits, y);
    m.optimizer->zero_grad();
    loss.backward();
    m.optimizer->step();
    m.correct += logits.detach().argmax(1).eq(y).sum().item<int64_t>();
    m.seen += y.size(0);
    ++m.steps_trained;
  }
}

void ModelQueue::reset_accuracy() {
  for (auto& m : models_) m.correct = m.seen = 0;
}

FrozenParameters::FrozenParameters(NetImpl& net) : params_(net.parameters()) {
  for (auto& p : params_) {
    before_.push_back(p.requires_grad());
    p.set_requires_grad(false);
  }
}

FrozenParameters::~FrozenParameters() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].set_requires_grad(before_[i]);
}

}  // namespace ddb
