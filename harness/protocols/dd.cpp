// `dd`: Dataset Distillation's evaluation (basics.py evaluate_steps / train_steps_inplace): a freshly
// initialised net (dd_initialise) takes the set's T plain SGD steps -- step t on image block t mod steps
// with the learned lr t, train mode -- and is then scored on the whole test split (test_all).
#include "harness/protocols/dd.h"

#include <cmath>

#include "harness/classification_loss.h"
#include "harness/eval_protocol.h"

namespace ddb {

void dd_initialise(NetImpl& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net.named_parameters()) {
    const std::string& name = p.key();
    torch::Tensor& t = p.value();
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_bias) {
      t.zero_();
    } else if (t.dim() >= 2) {
      torch::nn::init::xavier_normal_(t, 1.0);
    } else {
      t.fill_(1.0);  // a normalisation layer's weight
    }
  }
}

DdSteps dd_steps_of(const SyntheticSet& set) {
  const auto it = set.meta.find("dd");
  if (it == set.meta.end() || !it->is_object() || !it->contains("steps") || !it->contains("epochs") || !it->contains("lrs"))
    throw UserError("eval protocol 'dd' needs a set distilled by method 'dd' (its meta.dd holds the steps, epochs and "
                    "learned lrs); this set has none");
  DdSteps s{it->at("steps").get<int64_t>(), it->at("epochs").get<int64_t>(), it->at("lrs").get<std::vector<double>>()};
  if (s.steps < 1 || s.epochs < 1 || static_cast<int64_t>(s.lrs.size()) != s.steps * s.epochs || set.size() % s.steps != 0)
    throw UserError("meta.dd does not fit the set: " + std::to_string(set.size()) + " images, steps " + std::to_string(s.steps) +
                    ", epochs " + std::to_string(s.epochs) + ", " + std::to_string(s.lrs.size()) + " lrs");
  return s;
}

namespace {

class DdProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const DdSteps dd = dd_steps_of(ctx.set);
    torch::manual_seed(ctx.seed);
    Net net = make_net(ctx.spec.net, ctx.data.info.shape, ctx.data.info.num_classes);
    dd_initialise(*net);
    net->to(ctx.device);
    net->train();
    const torch::Tensor images = ctx.set.images.to(ctx.device).detach();
    const torch::Tensor labels = ctx.set.labels.to(ctx.device).detach();
    const int64_t block = images.size(0) / dd.steps;
    const auto params = net->parameters();
    EvalRunResult r;
    const int64_t total = static_cast<int64_t>(dd.lrs.size());
    for (int64_t t = 0; t < total; ++t) {
      const int64_t s = t % dd.steps;
      const torch::Tensor loss = classification_loss(net->forward(images.narrow(0, s * block, block)), labels.narrow(0, s * block, block));
      const std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, params);
      r.train_loss = loss.item<double>();
      if (!std::isfinite(r.train_loss)) throw Diverged("dd training: loss " + std::to_string(r.train_loss) + " at step " + std::to_string(t));
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].sub_(grads[i], dd.lrs[t]);
      report(ctx.progress, ctx.phase, t + 1, total);
    }
    add_test_rows(r, *net, ctx);  // spec.ood is empty: these protocols score no shifted sets
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "dd", "1",
    "Dataset Distillation's evaluate_steps: fresh xavier-initialised net, the set's T SGD steps (block t mod steps, "
    "learned lr t; meta.dd), then top-1 accuracy on the whole test split",
    {"accuracy"},
    [] { return std::make_unique<DdProtocol>(); },
    /*shifted_sets=*/false,
    /*augments=*/{"none"},
    /*defaults=*/json::object(),
    /*uses_epochs=*/false});

}  // namespace ddb
