// EDF's Figure 5b statistic as set metrics: how much Discriminative Area Enhancement grew each image's
// discriminative area (% of Grad-CAM pixels at or above the image's mean activation, Sec. 5) from its
// initialisation to the stored set. The distillation measures it (discriminative_area.h, on_stored: the
// same CAM net and threshold the enhancement used, before and after), so a metric cell reads it off the
// set's record: only an EDF set distilled with dae on has one.
#include <stdexcept>

#include "core/errors.h"
#include "harness/set_metrics.h"

namespace ddb {
namespace {

const json& stored_area(const SyntheticSet& set, const char* metric) {
  const json* ig = set.meta.contains("image_gradient") ? &set.meta["image_gradient"] : nullptr;
  if (!ig || !ig->contains("stored_set") || !(*ig)["stored_set"].contains("gain_pp_mean"))
    throw UserError(std::string(metric) +
                    ": the set has no discriminative-area record (meta.image_gradient.stored_set): only edf with "
                    "dae: true records one, and sets distilled before ddbench recorded it lack it");
  return (*ig)["stored_set"];
}

double gain_mean(const SyntheticSet& set, const LoadedDataset&, const json&, uint64_t, torch::Device) {
  return stored_area(set, "discriminative_area_gain").at("gain_pp_mean").get<double>();
}

double gain_smallest(const SyntheticSet& set, const LoadedDataset&, const json&, uint64_t, torch::Device) {
  return stored_area(set, "discriminative_area_gain_smallest").at("gain_pp_of_smallest_initial").get<double>();
}

}  // namespace

DDBENCH_REGISTER_SET_METRIC(MetricInfo{"discriminative_area_gain", true, "pp",
                                       "EDF Fig. 5b: mean over the stored images of (discriminative area of the "
                                       "stored image - of its initial image), percentage points (a set metric)"},
                            gain_mean);
DDBENCH_REGISTER_SET_METRIC(MetricInfo{"discriminative_area_gain_smallest", true, "pp",
                                       "EDF Sec. 5: the gain of the image whose initial discriminative area is the "
                                       "smallest, percentage points (a set metric)"},
                            gain_smallest);

}  // namespace ddb
