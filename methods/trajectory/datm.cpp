// `datm`: difficulty-aligned trajectory matching (Guo et al., ICLR 2024, "Towards Lossless Dataset
// Distillation via Difficulty-Aligned Trajectory Matching"; reference NUS-HPC-AI-Lab/DATM distill/DATM.py,
// utils/cfg.py, buffer/buffer_FTD.py). MTT's loop (trajectory_matching.h) with:
//   - learned soft labels (logits, SGD lr_label / momentum_label), initialised per image with the mean
//     logits of the experts whose final parameters classify it correctly; the student's loss is the
//     cross-entropy against their softmax (DATM.py SoftCrossEntropy), and so is the evaluation's;
//   - images initialised from training images expert 0 classifies correctly (samples_predicted_correctly);
//   - sequential generation: the start-epoch window widens from current_max_start_epoch to
//     max_start_epoch by iteration expansion_end_epoch (the "difficulty alignment" of the paper);
//   - no update in an iteration whose matching loss exceeds `threshold`;
//   - experts trained with GSAM (FTD's flat trajectories; DATM ships buffer_FTD.py and run_buffer.sh
//     --rho_max = --rho_min = 0.01).
// The meta-gradient is MTT's exact one (DATM.py unrolls with create_graph=True).
#include "methods/trajectory/datm.h"

#include <algorithm>

namespace ddb {
namespace {

void set_default(std::vector<OptionSpec>& specs, const std::string& name, json value, const std::string& doc = "") {
  auto it = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == name; });
  if (it == specs.end()) throw std::logic_error("datm: no option " + name);
  it->default_value = std::move(value);
  if (!doc.empty()) it->doc = doc;
}

}  // namespace

std::vector<OptionSpec> datm_option_specs() {
  std::vector<OptionSpec> o = trajectory_option_specs();
  // DATM utils/cfg.py defaults (a suite cell gives its config file's values).
  set_default(o, "iterations", 5000);
  set_default(o, "syn_steps", 80);
  set_default(o, "expert_epochs", 2);
  set_default(o, "max_start_epoch", 25,
              "start epochs are drawn from min_start_epoch .. bound-1, the bound growing to max_start_epoch");
  set_default(o, "pix_init", "samples_predicted_correctly",
              "samples_predicted_correctly (DATM: real images expert 0 classifies correctly) | real | noise");
  o.push_back({"lr_label", "float", 2.0, "SGD lr of the soft-label logits (DATM lr_y)"});
  o.push_back({"momentum_label", "float", 0.9, "SGD momentum of the soft-label logits (DATM Momentum_y)"});
  o.push_back({"threshold", "float", 1.0,
               "no update (images, labels, lr) in an iteration whose matching loss exceeds this (DATM threshold)"});
  o.push_back({"min_start_epoch", "int", 0, "lowest start epoch"});
  // Sequential generation is off unless a cell turns it on: the configs that use it give all three values
  // (CIFAR: 10 / 20 / 1000; EDF's ImageNet configs); the ImageNette configs (DATM @b1d4823) predate it, and
  // the later cfg.py defaults (20 / 3000) under their max_start_epoch 10 would make the window shrink.
  o.push_back({"current_max_start_epoch", "int", 0,
               "sequential generation: the start-epoch bound at iteration 0; 0 = off (bound max_start_epoch throughout)"});
  o.push_back({"expansion_end_epoch", "int", 3000,
               "sequential generation: the iteration at which the bound reaches max_start_epoch (DATM cfg.py 3000)"});
  o.push_back({"meta_gradient", "string", "exact",
               "exact (DATM.py's unrolled gradient) | first_order (TESLA's, as DATM_tesla.py)"});
  o.push_back({"expert_rho", "float", 0.01, "GSAM radius of the experts (DATM run_buffer.sh --rho_max = --rho_min)"});
  o.push_back({"expert_alpha", "float", 0.4, "GSAM surrogate-gap weight of the experts (buffer_FTD.py --alpha default)"});
  // Keys DATM's config files carry that DATM.py never reads: accepted so a cell can copy its config file, and
  // recorded with the run, without effect.
  o.push_back({"ema_decay", "float", 0.999, "read by neither DATM.py nor edf_distill.py (no image EMA); no effect"});
  o.push_back({"learn_end_epoch", "int", 5000, "a DATM config key DATM.py never reads; no effect"});
  o.push_back({"initial_step", "int", 20, "a DATM config key (Initial_Step) DATM.py never reads; no effect"});
  o.push_back({"batch_train", "int", 256,
               "the reference's evaluation batch (evaluate_synset); ddbench's evaluation batch is the cell's eval "
               "batch_train, so this is recorded only"});
  return o;
}

TrajectoryConfig datm_config(const std::string& method, const Options& o) {
  TrajectoryConfig cfg = TrajectoryConfig::from(method, o);
  cfg.gradient = meta_gradient_option(method, o, MetaGradient::Unrolled);
  cfg.soft_labels = SoftLabels::Learned;
  cfg.label_init = LabelInit::CorrectExperts;
  cfg.ema_decay = 0;  // see the ema_decay option
  return cfg;
}

namespace {

class Datm : public Method {
 public:
  SyntheticSet distill(const DistillContext& ctx) override {
    return distill_with_experts(datm_config("datm", ctx.options), ctx);
  }
};

}  // namespace

DDBENCH_REGISTER_METHOD(MethodInfo{
    "datm",
    "DATM: trajectory matching with learned soft labels from the experts, correctly classified initial images, a "
    "widening start-epoch window and a loss gate; flat (GSAM) experts",
    datm_option_specs(),
    [] { return std::make_unique<Datm>(); },
    /*matching=*/true, /*snapshots=*/true});

}  // namespace ddb
