// `dc`: VICO's evaluate_synset (utils.py) as DC, DSA, DM, IDM and their followers use it.
#include "harness/eval_protocol.h"

namespace ddb {
namespace {

class DcProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override { return train_and_test(ctx, ctx.spec.lr_net); }
  bool stacks_runs() const override { return true; }
  std::vector<EvalRunOutcome> run_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds) const override {
    return train_and_test_together(ctx, seeds, ctx.spec.lr_net);
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{
    "dc", "1",
    "VICO evaluate_synset: fresh net, SGD lr 0.01 mom 0.9 wd 5e-4, batch 256, Epoch+1 epochs, lr x0.1 after epoch "
    "Epoch//2+1 (new optimizer), last-epoch test accuracy; the same net scored on eval.ood's shifted test sets",
    {"accuracy", "worst_group_accuracy", "accuracy_drop"},
    [] { return std::make_unique<DcProtocol>(); },
    /*shifted_sets=*/true});

}  // namespace ddb
