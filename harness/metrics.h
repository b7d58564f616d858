// The metrics cells can report, with the direction that counts as better.
#pragma once
#include <string>
#include <vector>

namespace ddb {

struct MetricInfo {
  std::string name;
  bool higher_is_better = true;
  std::string unit;         // "%", "s", "GB", ""
  std::string description;
  bool implemented = false; // whether the evaluation protocols can measure it yet
};

const std::vector<MetricInfo>& metric_infos();
// nullptr when unknown.
const MetricInfo* find_metric(const std::string& name);
std::string metric_names_joined();

}  // namespace ddb
