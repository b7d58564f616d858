// `mtt`: MTT's evaluation (distill.py): evaluate_synset with the learned lr (args.lr_net = syn_lr).
#include "harness/eval_protocol.h"

namespace ddb {
namespace {

class MttProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    if (!ctx.set.learned_lr.defined())
      throw UserError("eval protocol 'mtt' needs a synthetic set with a learned lr (method did not learn one)");
    return train_and_test(ctx, ctx.set.learned_lr.item<double>());
  }
};

}  // namespace

DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{"mtt", "1", "as dc, with the synthetic set's learned lr (MTT's args.lr_net = syn_lr)",
                                       {"accuracy", "worst_group_accuracy", "accuracy_drop"},
                                       [] { return std::make_unique<MttProtocol>(); },
                                       /*shifted_sets=*/true});

}  // namespace ddb
