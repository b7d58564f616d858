#include "harness/train_stacked.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "harness/nets/stacked_convnet.h"

namespace ddb {

namespace {

// Each run's mean loss over its own batch: logits [R, b, K]; labels [R, b] (hard) or [R, b, K] (soft),
// the sequential loss_fn (harness/train.cpp) per run. Their sum is the stacked model's loss: run r's
// parameters get exactly the gradient of run r's loss.
torch::Tensor per_run_losses(const torch::Tensor& logits, const torch::Tensor& labels) {
  if (labels.dim() == 3) return -(labels * torch::log_softmax(logits, 2)).sum(2).mean(1);
  const int64_t runs = logits.size(0), b = logits.size(1);
  return torch::nn::functional::cross_entropy(
             logits.reshape({runs * b, logits.size(2)}), labels.reshape({runs * b}),
             torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone))
      .view({runs, b})
      .mean(1);
}

}  // namespace

std::string stacked_schedule_unsupported(const TrainSchedule& s) {
  if (s.outliers.defined() && s.lambda_oe > 0) return "outlier exposure trains each net with its own outlier batches";
  if (s.cutmix_prob > 0) return "CutMix is a per-net loss";
  if (s.after_epoch) return "a per-epoch callback (checkpoint selection) reads one net";
  if (s.carried_momentum) return "momentum carried between calls belongs to one net";
  return "";
}

std::vector<StackedRunTraining> train_classifiers_stacked(const std::vector<Net>& nets, const torch::Tensor& images,
                                                          const torch::Tensor& labels, const TrainSchedule& s,
                                                          RunStreams& streams, const ProgressFn& progress,
                                                          const std::string& phase) {
  if (const std::string why = stacked_schedule_unsupported(s); !why.empty())
    throw UserError("cannot train these runs stacked: " + why);
  const size_t runs = nets.size();
  if (streams.size() != runs) throw std::logic_error("train_classifiers_stacked: one random stream per net expected");
  StackedConvNet model(nets);
  model->to(images.device());
  model->train();
  const int64_t n = images.size(0);
  ScheduledSgd sgd(model->parameters(), s);
  std::vector<StackedRunTraining> out(runs);
  const int64_t epochs = total_epochs(s);
  const auto long_cpu = torch::TensorOptions().dtype(torch::kLong);
  for (int64_t ep = 0; ep < epochs; ++ep) {
    std::vector<torch::Tensor> perms;
    for (size_t r = 0; r < runs; ++r) perms.push_back(streams.with(r, [&] { return torch::randperm(n, long_cpu); }));
    torch::Tensor sums = torch::zeros({static_cast<int64_t>(runs)}, torch::kDouble);
    int64_t batches = 0;
    for (int64_t start = 0; start < n; start += s.batch) {
      std::vector<torch::Tensor> xs, ys;
      for (size_t r = 0; r < runs; ++r) {
        // The sequential loop's draws, in its order, from run r's stream.
        streams.with(r, [&] {
          const torch::Tensor idx = perms[r].narrow(0, start, std::min(s.batch, n - start)).to(images.device());
          torch::Tensor x = images.index_select(0, idx);
          torch::Tensor y = labels.index_select(0, idx);
          if (s.batch_transform) std::tie(x, y) = s.batch_transform(std::move(x), std::move(y));
          if (s.augment) x = s.augment(x);
          xs.push_back(std::move(x));
          ys.push_back(std::move(y));
        });
      }
      const torch::Tensor losses = per_run_losses(model->forward(torch::stack(xs)), torch::stack(ys));
      sgd.optimizer().zero_grad();
      losses.sum().backward();
      sgd.optimizer().step();
      sums += losses.detach().to(torch::kCPU, torch::kDouble);
      ++batches;
    }
    const torch::Tensor means = sums / static_cast<double>(std::max<int64_t>(1, batches));
    for (size_t r = 0; r < runs; ++r) {
      const double loss = means[static_cast<int64_t>(r)].item<double>();
      if (!out[r].failure.empty()) continue;
      out[r].last_loss = loss;
      // As train_classifier's Diverged message; the run's (non-finite) weights keep training harmlessly:
      // no parameter is shared, so they reach no other run.
      if (!std::isfinite(loss))
        out[r].failure = "training loss became " + std::to_string(loss) + " at epoch " + std::to_string(ep);
    }
    if (std::all_of(out.begin(), out.end(), [](const StackedRunTraining& t) { return !t.failure.empty(); })) break;
    sgd.end_epoch(ep);
    report(progress, phase, ep + 1, epochs);
  }
  model->unstack_into(nets);
  return out;
}

}  // namespace ddb
