// Loading datasets into tensors; the registry's facts (specs, where files are looked for) are in
// datasets/spec.h.
#pragma once
#include <string>

#include "datasets/spec.h"
#include "harness/types.h"

namespace ddb {

// Throws DatasetMissing naming every path it looked at and how to get the data; throws
// UserError when a file is present but has the wrong size or checksum.
LoadedDataset load_dataset(const std::string& name, const LoadOptions& opts = {});

// Loads a spec that need not be registered (tests, tools); manifest-only facts (class directory
// order, generator seed) come from the DatasetExtra overload in datasets/manifests.h.
LoadedDataset load_dataset(const DatasetSpec& spec, const LoadOptions& opts = {});

}  // namespace ddb
