// `mtt`: matching training trajectories (Cazenavette et al., CVPR 2022; reference distill.py).
// The loop lives in trajectory_matching.cpp; this file registers the method.
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

class Mtt : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("mtt", ctx.options);
    cfg.gradient = MetaGradient::Unrolled;
    return distill_with_experts(cfg, ctx);
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "mtt",
    "trajectory matching: unrolled student SGD on the synthetic set matched to expert parameter trajectories, "
    "learned lr",
    trajectory_option_specs(),
    [] { return std::make_unique<Mtt>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
