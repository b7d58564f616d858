// Metrics computed from a distilled set itself rather than from networks trained on it (FYI's
// unequalness score, ...). The harness runs them; the code that knows how lives with the methods
// (methods/ register into this registry), so harness/ does not depend on methods/.
//
// A cell whose metric is a set metric gets its own jobs (the planner adds `metric` to the run
// configuration, so it never shares a job with an accuracy cell of the same options): the job
// distills, decodes, computes the metric once (eval_run 0) and trains no evaluation networks.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "harness/metrics.h"
#include "harness/types.h"

namespace ddb {

// set: the decoded set (what the evaluation would train on); config: the job's run configuration
// (method, options, dataset, ipc, distill_net, eval, metric); seed: the job's seed, from which any
// randomness (random networks, augmentation) is derived.
using SetMetricFn = std::function<double(const SyntheticSet& set, const LoadedDataset& data, const json& config,
                                         uint64_t seed, torch::Device device)>;

class SetMetricRegistry {
 public:
  static SetMetricRegistry& instance();
  // Registers the metric (kind "set") in the metric registry too, so reports and bands read its direction.
  bool add(MetricInfo info, SetMetricFn fn);
  // nullptr when `name` is not a set metric.
  const SetMetricFn* find(const std::string& name) const;

 private:
  Registry<SetMetricFn> metrics_{"set metrics"};
};

}  // namespace ddb

// DDBENCH_REGISTER_SET_METRIC(MetricInfo{"name", higher_is_better, unit, description}, fn); at namespace scope.
#define DDBENCH_REGISTER_SET_METRIC(name, ...)                                 \
  static const bool DDBENCH_SET_METRIC_CONCAT(ddbench_set_metric_, __COUNTER__) = \
      ::ddb::SetMetricRegistry::instance().add(name, __VA_ARGS__)
#define DDBENCH_SET_METRIC_CONCAT_INNER(a, b) a##b
#define DDBENCH_SET_METRIC_CONCAT(a, b) DDBENCH_SET_METRIC_CONCAT_INNER(a, b)
