// `trustdd`: TrustDD's evaluation (mashijie1028/TrustDD train_model_synthetic_{no_oe,oe}.py, then
// test_ood_model_syn.py --is_load_best). A fresh net trains on S_in (and S_out with the OE loss when the
// set has outliers), the dc protocol's schedule with DSA on both batches; test accuracy every
// `test_every` epochs and at the last; the best one seen from epoch `keep_from` on is the model kept
// (the reference saves `_best.pt` only when a new best falls at epoch >= 100). That model's test
// accuracy and its OOD detection of each eval.ood set against the InD test split are the rows:
//   accuracy, <metric>:<score>@<set> and <metric>:<score>@mean (the mean over eval.ood),
//   metric in fpr95 / auroc / aupr_in / aupr_out, score in msp / mls / energy.
#include <cmath>
#include <map>

#include "core/hashing.h"
#include "harness/eval_protocol.h"
#include "harness/nets/net.h"
#include "harness/ood_metrics.h"
#include "harness/ood_scores.h"
#include "harness/ood_sets.h"

namespace ddb {
namespace {

torch::Tensor logits_of(NetImpl& net, const torch::Tensor& images, torch::Device device) {
  return map_batches(net, images, device, 256, [&net](const torch::Tensor& x) { return net.forward(x); });
}

// Parameters and buffers, copied: the reference's torch.save(state_dict) of the best checkpoint.
std::vector<torch::Tensor> snapshot_state(NetImpl& net) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> s;
  for (const auto& p : net.parameters()) s.push_back(p.detach().clone());
  for (const auto& b : net.buffers()) s.push_back(b.detach().clone());
  return s;
}

void restore_state(NetImpl& net, const std::vector<torch::Tensor>& s) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : net.parameters()) p.copy_(s[i++]);
  for (auto& b : net.buffers()) b.copy_(s[i++]);
}

class TrustddProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const EvalSpec& spec = ctx.spec;
    const LoadedDataset& data = ctx.data;
    torch::manual_seed(ctx.seed);
    Net net = make_net(spec.net, data.info.shape, data.info.num_classes);
    net->to(ctx.device);
    TrainSchedule sched = eval_schedule(ctx, spec.lr_net);
    if (ctx.set.outliers.defined() && ctx.set.outliers.size(0) > 0) {
      sched.outliers = ctx.set.outliers.to(ctx.device).detach();
      sched.lambda_oe = spec.lambda_oe;
    }
    double best = 0;
    std::vector<torch::Tensor> kept;
    sched.after_epoch = [&](int64_t ep) {
      if (ep % spec.test_every != 0 && ep != spec.epochs) return;
      const double acc = test_accuracy(*net, data.test, ctx.device);
      if (acc > best) {
        best = acc;
        if (ep >= spec.keep_from) kept = snapshot_state(*net);
      }
    };
    EvalRunResult r;
    r.train_loss = train_classifier(*net, ctx.set.images.to(ctx.device).detach(), ctx.set.labels.to(ctx.device).detach(),
                                    sched, ctx.progress, ctx.phase);
    // No new best from keep_from on (possible only in very short runs): the reference keeps no
    // `_best.pt`; the last epoch's model is scored instead.
    if (!kept.empty()) restore_state(*net, kept);
    r.accuracy = test_accuracy(*net, data.test, ctx.device);
    r.values.push_back({"accuracy", r.accuracy});
    if (spec.ood.empty()) return r;

    const torch::Tensor in_logits = logits_of(*net, data.test.images, ctx.device);
    // get_ood_scores stops after ood_num_examples // 256 batches of 256 (num_ood_ratio 1).
    const int64_t n_ood = std::max<int64_t>(1, data.test.size() / 256) * 256;
    const std::vector<std::string>& scores = ood_score_names();
    std::map<std::string, double> sums;
    for (const auto& set_name : spec.ood) {
      const OodImages ood = load_ood_test_set(set_name, data, n_ood, derive_seed(std::to_string(ctx.seed), 0, "ood:" + set_name), ctx.load);
      const torch::Tensor out_logits = logits_of(*net, ood.images, ctx.device);
      for (const auto& score : scores) {
        const OodMetrics m = ood_metrics(score_vector(ood_score(score, in_logits, spec.temperature)),
                                         score_vector(ood_score(score, out_logits, spec.temperature)));
        for (const auto& [metric, value] : {std::pair<const char*, double>{"fpr95", m.fpr95}, {"auroc", m.auroc},
                                            {"aupr_in", m.aupr_in}, {"aupr_out", m.aupr_out}}) {
          const std::string row = std::string(metric) + ":" + score;
          r.values.push_back({row + "@" + set_name, value});
          sums[row] += value;
        }
      }
    }
    for (const auto& [row, sum] : sums) r.values.push_back({row + "@mean", sum / static_cast<double>(spec.ood.size())});
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "trustdd", "1",
    "TrustDD train_model_synthetic_{no_oe,oe}.py + test_ood_model_syn.py: the dc schedule (SGD lr 0.01 mom 0.9 wd 5e-4, "
    "batch 256, Epoch+1 epochs, lr x0.1 after Epoch//2+1), DSA on S_in and S_out, loss CE(S_in) + lambda_oe * "
    "H(U; f(S_out)) when the set has outliers; test accuracy every test_every epochs, the best from keep_from on is "
    "the model kept; its accuracy and FPR95 / AUROC / AUPR-In / AUPR-Out of MSP / MLS / Energy for each eval.ood set "
    "(InD test split vs floor(N_test/256)*256 OOD images) and their mean",
    {"accuracy", "fpr95", "auroc", "aupr_in", "aupr_out"},
    [] { return std::make_unique<TrustddProtocol>(); }});

}  // namespace ddb
