// `ftd`: MTT with flat expert trajectories (sharpness-aware expert training) and an exponential
// moving average of the synthetic images, which is the stored result (Du et al., CVPR 2023,
// "Minimizing the Accumulated Trajectory Error to Improve Dataset Distillation"; reference
// AngusDujw/FTD-distillation distill_FTD.py + buffer_FTD.py).
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

class Ftd : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("ftd", ctx.options);
    cfg.gradient = MetaGradient::Unrolled;
    return distill_with_experts(cfg, ctx);
  }
};

std::vector<OptionSpec> ftd_options() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  o.push_back({"ema_decay", "float", 0.9995, "EMA decay of the synthetic images (FTD README 0.9995; script default 0.999)"});
  o.push_back({"expert_rho", "float", 0.01, "GSAM radius of the flat experts (run_buffer.sh --rho_max = --rho_min = 0.01)"});
  o.push_back({"expert_alpha", "float", 0.4, "GSAM surrogate-gap weight of the experts (buffer_FTD.py --alpha default)"});
  return o;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "ftd",
    "FTD: trajectory matching on sharpness-aware (flat) expert trajectories; stores the EMA of the images",
    ftd_options(),
    [] { return std::make_unique<Ftd>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
