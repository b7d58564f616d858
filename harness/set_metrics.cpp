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
  metrics_.add(name, std::move(fn));
  return metric_registry().add(name, std::move(info));
}

const SetMetricFn* SetMetricRegistry::find(const std::string& name) const {
  return metrics_.find(name);
}

}  // namespace ddb
