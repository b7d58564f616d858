// DATM's options and configuration, shared by `datm` and `edf` (EDF's code is DATM's loop plus two modules).
#pragma once
#include "methods/trajectory/trajectory_matching.h"

namespace ddb {

// trajectory_option_specs() with DATM's defaults (DATM utils/cfg.py) and DATM's own options.
std::vector<OptionSpec> datm_option_specs();
// The loop's configuration for a DATM-based method: learned soft labels initialised from the experts that
// classify each image correctly, sequential start epochs, the loss gate, flat (GSAM) experts.
TrajectoryConfig datm_config(const std::string& method, const Options& o);

}  // namespace ddb
