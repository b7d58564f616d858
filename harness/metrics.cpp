// ddbench: torch-free
#include "harness/metrics.h"

namespace ddb {

Registry<MetricInfo>& metric_registry() {
  static Registry<MetricInfo> registry("metrics");
  return registry;
}

std::string metric_base(const std::string& row) { return row.substr(0, row.find_first_of("@:")); }

const MetricInfo* find_metric(const std::string& name) { return metric_registry().find(name); }

const DerivedMetric* find_derived_metric(const std::string& name) {
  const MetricInfo* m = find_metric(name);
  return m && m->derived ? &*m->derived : nullptr;
}

std::optional<bool> metric_higher_is_better(const std::string& name) {
  if (const MetricInfo* m = find_metric(name)) return m->higher_is_better;
  const auto& planned_metrics = planned().section("metrics");
  const auto it = planned_metrics.find(name);
  if (it == planned_metrics.end()) return std::nullopt;
  return str_or(it->second, "direction", "higher") != "lower";
}

bool metric_known(const std::string& name) { return metric_registry().known(name); }

std::string metric_names_joined() {
  std::string s = metric_registry().names_joined();
  for (const auto& [name, facts] : planned().section("metrics"))
    if (!find_metric(name)) s += ", " + name + " (planned)";
  return s;
}

// Top-1 test accuracy: what the `dc` and `mtt` protocols produce.
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy", true, "%",
                                   "top-1 test accuracy of the protocol's trained net (after its last epoch, unless it "
                                   "selects a checkpoint: trustdd, kd)"});
DDBENCH_REGISTER_METRIC(MetricInfo{"teacher_accuracy", true, "%",
                                   "kd: top-1 test accuracy of the teacher the student learned from (harness/teacher.h)"});
// On the shifted test sets of harness/shifted_tests.h (RDD's robustness evaluation): rows
// worst_group_accuracy@<grouping> and accuracy_drop@<set>.
DDBENCH_REGISTER_METRIC(MetricInfo{"worst_group_accuracy", true, "%",
                                   "lowest top-1 accuracy over the groups of a grouping of the test split (RDD Cluster-min)"});
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy_drop", false, "%",
                                   "standard test accuracy minus the accuracy on a shifted test set or the worst group (points)"});

// Derived metrics: computed from two runs (the cell's, and the cell with its delta_from merged over it);
// harness/plan.cpp plans both runs, harness/check.cpp combines them.
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy_gain", true, "%",
                                   "accuracy of the cell minus that of its delta_from run (points); worst-cluster "
                                   "accuracy when the cell's ood is a grouping (rdd-kmeans10)",
                                   "mean", "derived", DerivedMetric{"accuracy", "difference", 1, "worst_group_accuracy"}});
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy_gain_delta", true, "%",
                                   "RDD Table 1 Gain subscripts: the cell's accuracy_gain minus the accuracy_gain of the "
                                   "same two runs on the standard test set (points, signed)",
                                   "mean", "derived",
                                   DerivedMetric{"accuracy", "difference", 1, "worst_group_accuracy", /*minus_standard=*/true}});
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy_drop_from", false, "%",
                                   "what a change costs: accuracy of the delta_from run minus that of the cell (points; "
                                   "IDM Sec. 5.4's 'model sampling lowers DM by 1.1%')",
                                   "mean", "derived", DerivedMetric{"accuracy", "difference", -1}});
DDBENCH_REGISTER_METRIC(MetricInfo{"auroc_gain", true, "%", "TrustDD: auroc(cell) - auroc(delta_from run) (points)", "mean",
                                   "derived", DerivedMetric{"auroc", "difference", 1}});
DDBENCH_REGISTER_METRIC(MetricInfo{"fpr95_drop", true, "%", "TrustDD: fpr95(delta_from run) - fpr95(cell) (points)", "mean",
                                   "derived", DerivedMetric{"fpr95", "difference", -1}});
DDBENCH_REGISTER_METRIC(MetricInfo{"time_per_iter_extra_s", false, "s",
                                   "seconds per distillation iteration a change adds: time_per_iter_s(cell) - "
                                   "time_per_iter_s(delta_from run), both on this machine",
                                   "mean", "derived", DerivedMetric{"time_per_iter_s", "difference", 1}});
DDBENCH_REGISTER_METRIC(MetricInfo{"recovery_ratio", true, "%",
                                   "EDF Comp-DD: 100 * accuracy(cell) / accuracy(delta_from run: the full training set)",
                                   "mean", "derived", DerivedMetric{"accuracy", "ratio", 1}});

}  // namespace ddb
