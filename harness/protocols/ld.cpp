// `ld`: LD's evaluation (label_distillation_or2.py / _rr.py test()): a fresh net trained only on the
// base examples with their learned labels, for the number of Adam steps the distillation chose on its
// validation split, then top-1 accuracy on the test split. The reference repeats it 20 times.
#include "harness/protocols/ld.h"

#include <cmath>

#include "harness/classification_loss.h"
#include "harness/eval_protocol.h"

namespace ddb {

double train_on_base_examples(NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels, int64_t steps,
                              int64_t inner_batch, const ProgressFn& progress, const std::string& phase) {
  if (inner_batch < 1) throw UserError("ld: inner batch must be at least 1, got " + std::to_string(inner_batch));
  torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(1e-3));
  net.train();
  const int64_t n = images.size(0);
  const int64_t b = std::min(inner_batch, n);
  double last = 0;
  const int64_t report_every = std::max<int64_t>(1, steps / 100);
  for (int64_t step = 0; step < steps; ++step) {
    const torch::Tensor idx = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong)).narrow(0, 0, b).to(images.device());
    const torch::Tensor loss = classification_loss(net.forward(images.index_select(0, idx)), labels.index_select(0, idx));
    opt.zero_grad();
    loss.backward();
    opt.step();
    last = loss.item<double>();
    if (!std::isfinite(last)) throw Diverged("ld training: loss " + std::to_string(last) + " at step " + std::to_string(step));
    if ((step + 1) % report_every == 0 || step + 1 == steps) report(progress, phase, step + 1, steps);
  }
  return last;
}

LdTraining ld_training_of(const SyntheticSet& set) {
  const auto it = set.meta.find("ld");
  if (it == set.meta.end() || !it->is_object() || !it->contains("steps") || !it->contains("inner_batch"))
    throw UserError("eval protocol 'ld' needs a set distilled by method 'ld' (its meta.ld holds the training steps "
                    "chosen on the validation split and the inner batch); this set has none");
  return LdTraining{it->at("steps").get<int64_t>(), it->at("inner_batch").get<int64_t>()};
}

namespace {

class LdProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const LdTraining training = ld_training_of(ctx.set);
    // Seeded from the run identity (the reference draws from one stream across its 20 repetitions).
    torch::manual_seed(ctx.seed);
    Net net = make_net(ctx.spec.net, ctx.data.info.shape, ctx.data.info.num_classes);
    net->to(ctx.device);
    EvalRunResult r;
    r.train_loss = train_on_base_examples(*net, ctx.set.images.to(ctx.device).detach(), ctx.set.labels.to(ctx.device).detach(),
                                          training.steps, training.inner_batch, ctx.progress, ctx.phase);
    add_test_rows(r, *net, ctx);  // spec.ood is empty: these protocols score no shifted sets
    return r;
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "ld", "1",
    "LD's test(): fresh net, Adam lr 1e-3, the set's chosen number of steps on random inner batches of its base "
    "examples with their learned soft labels (meta.ld), then top-1 test accuracy",
    {"accuracy"},
    [] { return std::make_unique<LdProtocol>(); },
    /*shifted_sets=*/false,
    /*augments=*/{"none"},
    /*defaults=*/json::object(),
    /*uses_epochs=*/false});

}  // namespace ddb
