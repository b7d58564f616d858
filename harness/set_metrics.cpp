#include "harness/set_metrics.h"

#include <stdexcept>

namespace ddb {

SetMetricRegistry& SetMetricRegistry::instance() {
  static SetMetricRegistry registry;
  return registry;
}

bool SetMetricRegistry::add(MetricInfo info, SetMetricFn fn) {
  const std::string name = info.name;
  info.kind = "set";
  if (!metrics_.emplace(name, std::move(fn)).second)
    throw std::logic_error("set metric '" + name + "' registered twice");
  return metric_registry().add(name, std::move(info));
}

const SetMetricFn* SetMetricRegistry::find(const std::string& name) const {
  const auto it = metrics_.find(name);
  return it == metrics_.end() ? nullptr : &it->second;
}

}  // namespace ddb
