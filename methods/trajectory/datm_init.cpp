#include "methods/trajectory/datm_init.h"

#include <algorithm>
#include <set>

namespace ddb {
namespace {

// Restores the net's train/eval mode on scope exit (the student trains in train mode).
struct EvalMode {
  NetImpl& net;
  bool was_training;
  explicit EvalMode(NetImpl& n) : net(n), was_training(n.is_training()) { net.eval(); }
  ~EvalMode() { net.train(was_training); }
};

torch::Tensor predict(ParamBinding& binding, const torch::Tensor& theta, const torch::Tensor& x, torch::Device device) {
  return binding.forward(theta, x.to(device)).argmax(1).cpu();
}

}  // namespace

CorrectlyClassifiedInit correctly_classified_init(const LoadedDataset& data, int64_t ipc, NetImpl& net,
                                                  ParamBinding& binding, const FinalParams& final_params,
                                                  int64_t num_experts, torch::Device device) {
  constexpr int64_t kBatch = 256;  // DATM.py batch_size = 256
  torch::NoGradGuard no_grad;
  EvalMode mode(net);
  CorrectlyClassifiedInit out;
  std::vector<torch::Tensor> parts;
  std::vector<torch::Tensor> thetas;  // final parameters of the experts consulted so far, on the device
  auto theta_of = [&](int64_t e) -> const torch::Tensor& {
    while (static_cast<int64_t>(thetas.size()) <= e) thetas.push_back(final_params(thetas.size()).to(device));
    return thetas[e];
  };
  for (int64_t c = 0; c < data.info.num_classes; ++c) {
    const torch::Tensor pool = data.sample_class(c, data.class_indices.at(c).numel());  // get_images(c, all)
    const int64_t n = pool.size(0);
    if (n < ipc)
      throw UserError("samples_predicted_correctly: class " + std::to_string(c) + " of " + data.info.name + " has only " +
                      std::to_string(n) + " training images, fewer than IPC " + std::to_string(ipc));
    std::vector<int64_t> kept;
    std::set<int64_t> taken;
    for (int64_t e = 0; e < num_experts && static_cast<int64_t>(kept.size()) < ipc; ++e) {
      out.experts_consulted = std::max(out.experts_consulted, e + 1);
      for (int64_t b = 0; b < n && static_cast<int64_t>(kept.size()) < ipc; b += kBatch) {
        const int64_t len = std::min(kBatch, n - b);
        const torch::Tensor pred = predict(binding, theta_of(e), pool.narrow(0, b, len), device);
        const auto* p = pred.data_ptr<int64_t>();
        for (int64_t i = 0; i < len && static_cast<int64_t>(kept.size()) < ipc; ++i)
          if (p[i] == c && taken.insert(b + i).second) kept.push_back(b + i);
      }
    }
    for (int64_t i = 0; i < n && static_cast<int64_t>(kept.size()) < ipc; ++i)
      if (taken.insert(i).second) kept.push_back(i), ++out.misclassified_fill;
    parts.push_back(pool.index_select(0, torch::tensor(kept, torch::kLong)));
  }
  out.set.images = torch::cat(parts, 0).clone();
  out.set.labels = torch::arange(data.info.num_classes, torch::kLong).repeat_interleave(ipc);
  return out;
}

ExpertLogits correct_expert_logits(NetImpl& net, ParamBinding& binding, const torch::Tensor& images,
                                   const torch::Tensor& labels, const FinalParams& final_params, int64_t num_experts,
                                   torch::Device device) {
  constexpr int64_t kBatch = 256;
  torch::NoGradGuard no_grad;
  EvalMode mode(net);
  const torch::Tensor x = images.detach();
  const torch::Tensor y = labels.cpu();
  torch::Tensor sum_correct, sum_all, count;
  for (int64_t e = 0; e < num_experts; ++e) {
    const torch::Tensor theta = final_params(e).to(device);
    std::vector<torch::Tensor> chunks;
    for (int64_t b = 0; b < x.size(0); b += kBatch)
      chunks.push_back(binding.forward(theta, x.narrow(0, b, std::min(kBatch, x.size(0) - b)).to(device)).cpu());
    const torch::Tensor logits = torch::cat(chunks, 0).to(torch::kFloat64);
    const torch::Tensor correct = (logits.argmax(1) == y).to(torch::kFloat64).unsqueeze(1);
    sum_correct = sum_correct.defined() ? sum_correct + logits * correct : logits * correct;
    sum_all = sum_all.defined() ? sum_all + logits : logits.clone();
    count = count.defined() ? count + correct : correct.clone();
  }
  const torch::Tensor none = count.squeeze(1) == 0;
  torch::Tensor mean = torch::where(none.unsqueeze(1), sum_all / static_cast<double>(num_experts),
                                    sum_correct / count.clamp_min(1));
  ExpertLogits out;
  out.logits = mean.to(torch::kFloat32);
  out.images_without_correct_expert = none.sum().item<int64_t>();
  out.initial_accuracy = (out.logits.argmax(1) == y).to(torch::kFloat64).mean().item<double>();
  return out;
}

}  // namespace ddb
