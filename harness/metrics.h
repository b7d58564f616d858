// The metric registry: every metric a cell can report, with the direction that counts as better, its
// unit and how runs pool. Evaluation metrics are produced by protocols (harness/protocols/), set
// metrics by functions on the distilled set (harness/set_metrics.h); both register here. Metrics that
// suites name but nothing produces yet are data (planned/evaluation.yaml), with their direction.
#pragma once
#include <optional>
#include <string>

#include "core/json.h"
#include "core/registry.h"

namespace ddb {

// A derived metric is computed from two runs rather than one: the cell's own run and a second run,
// the cell's spec with its `delta_from` merged over it (or, when the cell names none, the metric's
// default_delta_from). Both are ordinary jobs of the plan; the check reads `of` from each and combines:
//   difference: sign * (of(cell) - of(other))        (auroc_gain +1; fpr95_drop -1: fpr95(other) - fpr95(cell))
//   ratio:      100 * of(cell) / of(other)           (recovery_ratio)
// minus_standard subtracts the same difference taken on the standard test accuracy of the same two
// runs (RDD's Gain subscripts: this row's gain minus the Standard row's gain).
struct DerivedMetric {
  std::string of;                    // the metric read from each run ("auroc", "fpr95", "accuracy")
  std::string rule = "difference";   // difference | ratio
  int sign = 1;
  // The metric read instead of `of` when the cell's `ood` is a grouping of the test split
  // (rdd-kmeans10): accuracy_gain there is the gain in worst-cluster accuracy.
  std::string of_on_grouping = "";
  bool minus_standard = false;
  json default_delta_from = nullptr;         // null: a cell must name its second run (delta_from)
};

struct MetricInfo {
  std::string name;
  bool higher_is_better = true;
  std::string unit;            // "%", "s", "GB", ""
  std::string description;
  // How the values of a cell's runs (seeds x evaluation runs) pool: "mean" = mean ± population std
  // (ddof 0), as the papers report.
  std::string aggregate = "mean";
  std::string kind = "evaluation";  // evaluation (a protocol's output) | set (measured on the set itself) | derived
  std::optional<DerivedMetric> derived = std::nullopt;  // kind "derived": how it is computed from two runs
};

Registry<MetricInfo>& metric_registry();
// The registry name in a metric row's name: "auroc:energy@textures" -> "auroc" (":<score>" and
// "@<subset>" qualify a row; the metric's facts are the base name's).
std::string metric_base(const std::string& row);
// nullptr when not registered.
const MetricInfo* find_metric(const std::string& name);
// Direction of a registered or planned metric; nullopt when the name is unknown.
std::optional<bool> metric_higher_is_better(const std::string& name);
// The derivation of a registered derived metric; nullptr for any other name.
const DerivedMetric* find_derived_metric(const std::string& name);
// Registered or planned.
bool metric_known(const std::string& name);
std::string metric_names_joined();  // registered, then planned

}  // namespace ddb

// DDBENCH_REGISTER_METRIC(MetricInfo{...}); at namespace scope.
#define DDBENCH_REGISTER_METRIC(...) DDBENCH_REGISTER_IN(::ddb::metric_registry, __VA_ARGS__)
