#include "harness/metrics.h"

namespace ddb {

const std::vector<MetricInfo>& metric_infos() {
  static const std::vector<MetricInfo> infos = {
      {"accuracy", true, "%", "top-1 test accuracy after the protocol's last epoch", true},
      {"fpr95", false, "%", "false-positive rate of OOD samples at 95% TPR on in-distribution", false},
      {"auroc", true, "%", "area under the ROC curve, InD vs OOD", false},
      {"aupr_in", true, "%", "area under precision-recall, InD as positive", false},
      {"aupr_out", true, "%", "area under precision-recall, OOD as positive", false},
      {"worst_group_accuracy", true, "%", "lowest accuracy over groups / clusters / subpopulations", false},
      {"accuracy_drop", false, "%", "accuracy lost under a shift or corruption", false},
      {"unequalness", false, "", "FYI: method distance between a set and its flipped copy (a set metric)", true},
      {"time_s", false, "s", "wall time of the distillation", false},
      {"memory_gb", false, "GB", "peak memory of the distillation", false},
      {"forgetting", false, "%", "continual learning: accuracy forgotten", false},
      {"accuracy_gain", true, "%", "accuracy with a modifier minus the same run without it (points)", false},
      {"accuracy_gain_delta", true, "%", "RDD: difference of two accuracy gains (points)", false},
      {"retrieval_top1", true, "%", "RDD: top-1 retrieval accuracy on unseen classes", false},
      {"time_per_iter_s", false, "s", "wall time per distillation iteration", false},
      {"time_per_iter_extra_s", false, "s", "extra wall time per iteration a modifier adds", false},
      {"recovery_ratio", true, "%", "EDF Comp-DD: share of the full-data accuracy a synthetic set recovers", false},
      {"discriminative_area_gain", true, "%", "EDF: growth of the Grad-CAM discriminative area", false},
      {"auroc_gain", true, "%", "TrustDD: AUROC gain over the cell's delta_from run (points)", false},
      {"fpr95_drop", true, "%", "TrustDD: FPR95 reduction versus the cell's delta_from run (points)", false},
  };
  return infos;
}

const MetricInfo* find_metric(const std::string& name) {
  for (const auto& m : metric_infos())
    if (m.name == name) return &m;
  return nullptr;
}

std::string metric_names_joined() {
  std::string s;
  for (const auto& m : metric_infos()) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

}  // namespace ddb
