// time_per_iter_s: a set metric read from the timing the runner records while it distils
// (harness/iteration_clock.h, set.meta.distill_timing). Hardware-bound by nature: the figure is this
// machine's (its CPU / GPU model is in the result's provenance), compared with a paper's on theirs.
#include <stdexcept>

#include "harness/set_metrics.h"

namespace ddb {
namespace {

double time_per_iter_s(const SyntheticSet& set, const LoadedDataset&, const json&, uint64_t, torch::Device) {
  const json& t = set.meta.contains("distill_timing") ? set.meta["distill_timing"] : json();
  if (!t.is_object() || !t.contains("s_per_iteration"))
    throw std::runtime_error(
        "time_per_iter_s: the set carries no distill_timing (distilled by a ddbench older than the timing, "
        "imported, or its method reported no iteration); distil it again with a new --results");
  return t.at("s_per_iteration").get<double>();
}

}  // namespace

DDBENCH_REGISTER_SET_METRIC(MetricInfo{"time_per_iter_s", false, "s",
                                       "seconds per distillation iteration on this machine, between the method's "
                                       "first and last progress report (set-up excluded; a set metric)"},
                            time_per_iter_s);

}  // namespace ddb
