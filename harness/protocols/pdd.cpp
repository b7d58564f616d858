// `pdd`: PDD's progressive evaluation (harness/protocols/pdd.h). The reference starts its 5 evaluation nets
// from one expert's initial weights (evaluate_mtt.py loads buffer[0][0] into each); ddbench seeds each run's
// fresh net from the run identity, as every other protocol does.
#include "harness/protocols/pdd.h"

#include <numeric>

#include "harness/eval_protocol.h"
#include "harness/nets/net.h"

namespace ddb {

void record_pdd_stages(SyntheticSet& set, const PddStages& stages) {
  set.meta["pdd"]["stage_sizes"] = stages.sizes;
  set.meta["pdd"]["stage_lrs"] = stages.lrs;
}

PddStages pdd_stages_of(const SyntheticSet& set) {
  const json& m = set.meta;
  if (!m.contains("pdd") || !m["pdd"].is_object() || !m["pdd"].contains("stage_sizes") || !m["pdd"].contains("stage_lrs"))
    throw UserError("eval protocol 'pdd' needs a set distilled by method pdd (its meta.pdd names the stages and their "
                    "learned lrs); this set has none");
  PddStages s;
  s.sizes = m["pdd"]["stage_sizes"].get<std::vector<int64_t>>();
  s.lrs = m["pdd"]["stage_lrs"].get<std::vector<double>>();
  const int64_t total = std::accumulate(s.sizes.begin(), s.sizes.end(), int64_t{0});
  if (s.sizes.empty() || s.sizes.size() != s.lrs.size() || total != set.size())
    throw UserError("eval protocol 'pdd': meta.pdd lists " + std::to_string(s.sizes.size()) + " stage sizes (" +
                    std::to_string(total) + " images) and " + std::to_string(s.lrs.size()) + " lrs for a set of " +
                    std::to_string(set.size()) + " images");
  for (size_t k = 0; k < s.sizes.size(); ++k)
    if (s.sizes[k] < 1 || !(s.lrs[k] > 0))
      throw UserError("eval protocol 'pdd': stage " + std::to_string(k + 1) + " has " + std::to_string(s.sizes[k]) +
                      " images and lr " + std::to_string(s.lrs[k]));
  return s;
}

TrainSchedule pdd_stage_schedule(TrainSchedule s, double lr) {
  s.lr = lr;
  s.momentum = 0.9;
  s.weight_decay = 5e-4;
  s.extra_epoch = true;   // for ep in range(Epoch + 1)
  s.lr_drop = false;      // not VICO's new optimizer ...
  s.lr_milestones = {lr_drop_epoch(s.epochs) + 1};  // ... but lr x0.1 in place once epoch Epoch//2 + 1 is done
  s.lr_gamma = 0.1;
  return s;
}

namespace {

class PddProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const PddStages stages = pdd_stages_of(ctx.set);
    torch::manual_seed(ctx.seed);
    Net net = make_net(ctx.spec.net, ctx.data.info.shape, ctx.data.info.num_classes);
    net->to(ctx.device);
    const torch::Tensor images = ctx.set.images.to(ctx.device).detach();
    const torch::Tensor labels = ctx.set.labels.to(ctx.device).detach();
    std::vector<torch::Tensor> momentum;  // evaluate_mtt.py: init_state = optimizer.state, stage to stage
    EvalRunResult r;
    int64_t upto = 0;
    const size_t p = stages.sizes.size();
    for (size_t k = 0; k < p; ++k) {
      upto += stages.sizes[k];
      TrainSchedule s = pdd_stage_schedule(eval_schedule(ctx, stages.lrs[k]), stages.lrs[k]);
      s.carried_momentum = &momentum;
      r.train_loss = train_classifier(*net, images.narrow(0, 0, upto), labels.narrow(0, 0, upto), s, ctx.progress,
                                      ctx.phase + " stage " + std::to_string(k + 1) + "/" + std::to_string(p));
    }
    add_test_rows(r, *net, ctx);
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "pdd", "1",
    "PDD evaluate_mtt.py: one net trained on the union of stages 1..k for k = 1..P, each Epoch+1 epochs of SGD "
    "(stage k's learned lr, mom 0.9, wd 5e-4, lr x0.1 in place after epoch Epoch//2+1) with the momentum carried "
    "between stages; last-stage test accuracy and eval.ood's shifted sets",
    {"accuracy", "worst_group_accuracy", "accuracy_drop"},
    [] { return std::make_unique<PddProtocol>(); },
    /*shifted_sets=*/true});

}  // namespace ddb
