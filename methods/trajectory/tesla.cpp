// `tesla`: MTT with the same meta-gradient computed in memory constant in syn_steps (reverse-mode
// adjoint over stored student parameters, Cui et al. ICML 2023, "Scaling Up Dataset Distillation to
// ImageNet-1K with Constant Memory") and soft label assignment from an expert.
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

class Tesla : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("tesla", ctx.options);
    cfg.gradient = MetaGradient::Adjoint;
    return distill_with_experts(cfg, ctx);
  }
};

std::vector<OptionSpec> tesla_options() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  // TESLA's soft label assignment (SLA) is described as train-free: the expert's soft labels are
  // assigned once and kept, hence the default. `learned` optimises the label logits as well
  // (DATM-style); `none` = MTT's hard labels (the TESLA README's CIFAR commands pass no
  // --teacher_label, its ImageNet-1K command does).
  o.push_back({"soft_labels", "string", "expert",
               "expert (soft labels from an expert's logits, fixed) | learned (those logits optimised too) | none"});
  o.push_back({"lr_label", "float", 2.0, "SGD lr of the label logits when soft_labels = learned (not from TESLA)"});
  return o;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "tesla",
    "TESLA: MTT's gradient with memory constant in syn_steps (adjoint recomputation), expert soft labels",
    tesla_options(),
    [] { return std::make_unique<Tesla>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
