#include "harness/train.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "harness/augment/cutmix.h"
#include "harness/classification_loss.h"

namespace ddb {

torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  if (labels.dim() == 2) {  // soft labels (TESLA-style): cross-entropy against a distribution
    return -(labels * torch::log_softmax(logits, 1)).sum(1).mean();
  }
  return torch::nn::functional::cross_entropy(logits, labels);
}

namespace {

std::unique_ptr<torch::optim::SGD> make_sgd(const std::vector<torch::Tensor>& params, const TrainSchedule& s, double lr) {
  return std::make_unique<torch::optim::SGD>(params,
                                             torch::optim::SGDOptions(lr).momentum(s.momentum).weight_decay(s.weight_decay));
}
// SGD's state is keyed by the address of the parameter's TensorImpl as a string (LibTorch 1.13).
void install_momentum(torch::optim::SGD& opt, const std::vector<torch::Tensor>& params,
                      const std::vector<torch::Tensor>& buffers) {
  if (buffers.size() != params.size())
    throw std::logic_error("carried momentum: " + std::to_string(buffers.size()) + " buffers for " +
                           std::to_string(params.size()) + " parameters");
  for (size_t i = 0; i < params.size(); ++i) {
    auto state = std::make_unique<torch::optim::SGDParamState>();
    state->momentum_buffer(buffers[i].to(params[i].device()).clone());
    opt.state()[c10::guts::to_string(params[i].unsafeGetTensorImpl())] = std::move(state);
  }
}

// The buffers after training; a parameter that never took a momentum step gets zeros (PyTorch's first
// step would start its buffer from the gradient: a zero buffer plus the gradient is the same).
std::vector<torch::Tensor> momentum_of(torch::optim::SGD& opt, const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) {
    auto it = opt.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (it == opt.state().end()) {
      out.push_back(torch::zeros_like(p).detach());
      continue;
    }
    const auto& st = static_cast<const torch::optim::SGDParamState&>(*it->second);
    out.push_back(st.momentum_buffer().defined() ? st.momentum_buffer().detach().clone() : torch::zeros_like(p).detach());
  }
  return out;
}
}  // namespace

ScheduledSgd::ScheduledSgd(std::vector<torch::Tensor> params, const TrainSchedule& s)
    : params_(std::move(params)), s_(s), lr_(s.lr), opt_(make_sgd(params_, s, s.lr)) {}

void ScheduledSgd::end_epoch(int64_t ep) {
  if (s_.lr_drop && ep == lr_drop_epoch(s_.epochs)) {
    lr_ *= 0.1;
    opt_ = make_sgd(params_, s_, lr_);  // the reference builds a new optimizer: momentum buffers are dropped
  }
  if (!s_.lr_milestones.empty()) {  // MultiStepLR.step(): in place, momentum kept
    const double next = scheduled_lr(s_, ep + 1);
    if (next != lr_) {
      lr_ = next;
      for (auto& group : opt_->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr_);
    }
  }
}

double scheduled_lr(const TrainSchedule& s, int64_t epoch) {
  double lr = s.lr;
  if (s.lr_drop && epoch > lr_drop_epoch(s.epochs)) lr *= 0.1;
  std::vector<int64_t> milestones = s.lr_milestones;
  std::sort(milestones.begin(), milestones.end());
  for (int64_t m : milestones)
    if (m <= epoch) lr *= s.lr_gamma;
  return lr;
}

torch::Tensor uniform_cross_entropy(const torch::Tensor& logits) {
  return (torch::logsumexp(logits, 1) - logits.mean(1)).mean();
}

double train_classifier(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels,
                        const TrainSchedule& s, const ProgressFn& progress, const std::string& phase) {
  net.train();
  const int64_t n = images.size(0);
  ScheduledSgd sgd(net.parameters(), s);
  if (s.carried_momentum && !s.carried_momentum->empty()) {
    if (s.lr_drop) throw std::logic_error("carried momentum with lr_drop: the new optimizer would drop it");
    install_momentum(sgd.optimizer(), net.parameters(), *s.carried_momentum);
  }
  double last_loss = 0;
  const int64_t epochs = total_epochs(s);  // `for ep in range(Epoch + 1)`
  const bool cutmix_on = s.cutmix_prob > 0;
  if (cutmix_on && (labels.dim() != 1 || (s.outliers.defined() && s.lambda_oe > 0)))
    throw UserError("CutMix training takes hard labels and no outliers");
  for (int64_t ep = 0; ep < epochs; ++ep) {
    const torch::Tensor perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
    double sum = 0;
    int64_t batches = 0;
    const bool oe = s.outliers.defined() && s.outliers.size(0) > 0 && s.lambda_oe > 0;
    const int64_t m = oe ? s.outliers.size(0) : 0;
    const torch::Tensor perm_out = oe ? torch::randperm(m, torch::TensorOptions().dtype(torch::kLong)) : torch::Tensor();
    for (int64_t start = 0; start < n && (!oe || start < m); start += s.batch) {
      const torch::Tensor idx = perm.narrow(0, start, std::min(s.batch, n - start)).to(images.device());
      torch::Tensor x = images.index_select(0, idx);
      torch::Tensor y = labels.index_select(0, idx);
      if (s.batch_transform) std::tie(x, y) = s.batch_transform(std::move(x), std::move(y));
      if (s.augment) x = s.augment(x);
      torch::Tensor loss;
      if (oe) {
        const torch::Tensor idx_out = perm_out.narrow(0, start, std::min(s.batch, m - start)).to(s.outliers.device());
        torch::Tensor xo = s.outliers.index_select(0, idx_out);
        if (s.augment) xo = s.augment(xo);
        const torch::Tensor logits = net.forward(torch::cat({x, xo}, 0));
        const int64_t b = x.size(0);
        loss = classification_loss(logits.narrow(0, 0, b), y) + s.lambda_oe * uniform_cross_entropy(logits.narrow(0, b, xo.size(0)));
      } else if (cutmix_on) {
        const CutMixed m = cutmix(x, y, s.cutmix_beta, s.cutmix_prob);
        loss = cutmix_loss(net.forward(m.images), y, m);
      } else {
        loss = classification_loss(net.forward(x), y);
      }
      sgd.optimizer().zero_grad();
      loss.backward();
      sgd.optimizer().step();
      sum += loss.item<double>();
      ++batches;
    }
    last_loss = sum / std::max<int64_t>(1, batches);
    if (!std::isfinite(last_loss))
      throw Diverged("training loss became " + std::to_string(last_loss) + " at epoch " + std::to_string(ep));
    if (s.after_epoch) s.after_epoch(ep);
    sgd.end_epoch(ep);
    report(progress, phase, ep + 1, epochs);
  }
  if (s.carried_momentum) *s.carried_momentum = momentum_of(sgd.optimizer(), net.parameters());
  return last_loss;
}

torch::Tensor map_batches(NetImpl& net, const torch::Tensor& images, torch::Device device, int64_t batch,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn) {
  net.eval();
  std::vector<torch::Tensor> out;
  {
    c10::InferenceMode inference;
    for (int64_t s = 0; s < images.size(0); s += batch)
      out.push_back(fn(images.narrow(0, s, std::min(batch, images.size(0) - s)).to(device)).cpu());
  }
  net.train();
  // Outside inference mode: the result is an ordinary tensor (callers may modify it in place).
  return torch::cat(out, 0);
}

int64_t test_batch_for(const ImageShape& shape, torch::Device device) {
  if (device.is_cpu()) return 256;
  constexpr int64_t kTestPixels = int64_t{2000} * 28 * 28;  // images x height x width per forward
  return std::max<int64_t>(256, kTestPixels / std::max<int64_t>(1, shape.height * shape.width));
}

double test_accuracy(NetImpl& net, const TensorSplit& split, torch::Device device, int64_t batch) {
  const int64_t n = split.size();
  if (batch <= 0)
    batch = split.images.dim() == 4
                ? test_batch_for({split.images.size(1), split.images.size(2), split.images.size(3)}, device)
                : 256;
  net.eval();
  int64_t correct = 0;
  {
    c10::InferenceMode inference;
    for (int64_t start = 0; start < n; start += batch) {
      const int64_t len = std::min(batch, n - start);
      const torch::Tensor x = split.images.narrow(0, start, len).to(device);
      const torch::Tensor y = split.labels.narrow(0, start, len).to(device);
      correct += net.forward(x).argmax(1).eq(y).sum().item<int64_t>();
    }
  }
  net.train();
  return n ? 100.0 * static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

}  // namespace ddb
