// ddbench: torch-free
#include "harness/metrics.h"

namespace ddb {

Registry<MetricInfo>& metric_registry() {
  static Registry<MetricInfo> registry("metrics");
  return registry;
}

std::string metric_base(const std::string& row) { return row.substr(0, row.find_first_of("@:")); }

const MetricInfo* find_metric(const std::string& name) { return metric_registry().find(name); }

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
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy", true, "%", "top-1 test accuracy after the protocol's last epoch"});
// On the shifted test sets of harness/shifted_tests.h (RDD's robustness evaluation): rows
// worst_group_accuracy@<grouping> and accuracy_drop@<set>.
DDBENCH_REGISTER_METRIC(MetricInfo{"worst_group_accuracy", true, "%",
                                   "lowest top-1 accuracy over the groups of a grouping of the test split (RDD Cluster-min)"});
DDBENCH_REGISTER_METRIC(MetricInfo{"accuracy_drop", false, "%",
                                   "standard test accuracy minus the accuracy on a shifted test set or the worst group (points)"});

}  // namespace ddb
