// EDF's configuration from its options (edf.cpp registers the method; tests build the loop from these).
#pragma once
#include <optional>

#include "methods/trajectory/discriminative_area.h"
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {

// DATM's configuration plus Common Pattern Dropout when `cpd` is on.
TrajectoryConfig edf_config(const Options& o);
// Discriminative Area Enhancement's settings when `dae` is on.
std::optional<DiscriminativeAreaSettings> edf_dae_settings(const Options& o);

}  // namespace ddb
