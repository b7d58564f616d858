// `mtt`: MTT's evaluation (distill.py): evaluate_synset with the learned lr (args.lr_net = syn_lr).
#include "harness/eval_protocol.h"

namespace ddb {
namespace {

class MttProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override { return train_and_test(ctx, learned_lr(ctx)); }
  bool stacks_runs() const override { return true; }
  std::vector<EvalRunOutcome> run_together(const EvalContext& ctx, const std::vector<uint64_t>& seeds) const override {
    return train_and_test_together(ctx, seeds, learned_lr(ctx));
  }

 private:
  static double learned_lr(const EvalContext& ctx) {
    if (!ctx.set.learned_lr.defined())
      throw UserError("eval protocol 'mtt' needs a synthetic set with a learned lr (method did not learn one)");
    return ctx.set.learned_lr.item<double>();
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{"mtt", "1", "as dc, with the synthetic set's learned lr (MTT's args.lr_net = syn_lr)",
                                       {"accuracy", "worst_group_accuracy", "accuracy_drop"},
                                       [] { return std::make_unique<MttProtocol>(); },
                                       /*shifted_sets=*/true});

}  // namespace ddb
