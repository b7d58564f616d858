// The metric registry: every metric a cell can report, with the direction that counts as better, its
// unit and how runs pool. Evaluation metrics are produced by protocols (harness/protocols/), set
// metrics by functions on the distilled set (harness/set_metrics.h); both register here. Metrics that
// suites name but nothing produces yet are data (planned/evaluation.yaml), with their direction.
#pragma once
#include <optional>
#include <string>

#include "core/registry.h"

namespace ddb {

struct MetricInfo {
  std::string name;
  bool higher_is_better = true;
  std::string unit;            // "%", "s", "GB", ""
  std::string description;
  // How the values of a cell's runs (seeds x evaluation runs) pool: "mean" = mean ± population std
  // (ddof 0), as the papers report.
  std::string aggregate = "mean";
  std::string kind = "evaluation";  // evaluation (a protocol's output) | set (measured on the set itself)
};

Registry<MetricInfo>& metric_registry();
// The registry name in a metric row's name: "auroc:energy@textures" -> "auroc" (":<score>" and
// "@<subset>" qualify a row; the metric's facts are the base name's).
std::string metric_base(const std::string& row);
// nullptr when not registered.
const MetricInfo* find_metric(const std::string& name);
// Direction of a registered or planned metric; nullopt when the name is unknown.
std::optional<bool> metric_higher_is_better(const std::string& name);
// Registered or planned.
bool metric_known(const std::string& name);
std::string metric_names_joined();  // registered, then planned

}  // namespace ddb

// DDBENCH_REGISTER_METRIC(MetricInfo{...}); at namespace scope.
#define DDBENCH_REGISTER_METRIC(...) DDBENCH_REGISTER_IN(::ddb::metric_registry, __VA_ARGS__)
