// `tesla`: TESLA (Cui et al. ICML 2023, "Scaling Up Dataset Distillation to ImageNet-1K with Constant
// Memory"; reference justincui03/tesla distill.py ~373-427): MTT's loop with TESLA's first-order
// meta-gradient (each student step's gradient detached: constant memory; trajectory_matching.h
// MetaGradient::FirstOrder), hard labels unless soft_labels says otherwise (the README's CIFAR
// commands pass no --teacher_label; its ImageNet-1K command does: labels from the current expert's
// target parameters, recomputed every iteration). `meta_gradient: exact` gives MTT's exact gradient
// in constant memory (adjoint recomputation) instead.
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {
namespace {

class Tesla : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    TrajectoryConfig cfg = TrajectoryConfig::from("tesla", ctx.options);
    cfg.gradient = meta_gradient_option("tesla", ctx.options, MetaGradient::Adjoint);
    return distill_with_experts(cfg, ctx);
  }
};

std::vector<OptionSpec> tesla_options() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  // none: hard labels (TESLA's CIFAR commands); expert: --teacher_label, the current expert's logits at
  // its target parameters, every iteration (its ImageNet-1K command); learned: logits optimised too,
  // initialised from an expert (DATM-style, not TESLA's).
  o.push_back({"soft_labels", "string", "none", "none | expert (TESLA --teacher_label, per iteration) | learned"});
  o.push_back({"meta_gradient", "string", "first_order",
               "first_order (TESLA's: per-step gradients detached) | exact (MTT's gradient, adjoint, constant memory)"});
  o.push_back({"lr_label", "float", 2.0, "SGD lr of the label logits when soft_labels = learned (not from TESLA)"});
  return o;
}

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "tesla",
    "TESLA: trajectory matching with TESLA's first-order meta-gradient (constant memory); soft labels from the "
    "current expert on request",
    tesla_options(),
    [] { return std::make_unique<Tesla>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
