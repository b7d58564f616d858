// `mtt`: matching training trajectories (Cazenavette et al., CVPR 2022; reference distill.py).
// The loop lives in trajectory_matching.cpp; this file registers the method. `meta_gradient:
// first_order` is FYI's MTT (its distill.py computes TESLA's gradient).
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

class Mtt : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("mtt", ctx.options);
    cfg.gradient = meta_gradient_option("mtt", ctx.options, MetaGradient::Unrolled);
    return distill_with_experts(cfg, ctx);
  }
};

std::vector<OptionSpec> mtt_options() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  // FYI's MTT (FYI/MTT/distill.py since June 2023) takes TESLA's first-order gradient; MTT's own is exact.
  OptionSpec g{"meta_gradient", "string", "exact",
               "exact (MTT: the unrolled gradient) | first_order (TESLA's, as FYI's MTT code computes it)"};
  g.neutral_default = true;  // added after the suites' references: at its default it changes nothing
  o.push_back(g);
  return o;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "mtt",
    "trajectory matching: unrolled student SGD on the synthetic set matched to expert parameter trajectories, "
    "learned lr",
    mtt_options(),
    [] { return std::make_unique<Mtt>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
