// Dataset readers: one per on-disk format, registered by name (the `reader:` of a built-in spec or a
// manifest entry). A new format (TrustDD's 300K Random Images .npy, SVHN's .mat) is one new file under
// datasets/ that registers a reader; load_dataset locates and checks the files first.
#pragma once
#include <functional>
#include <string>

#include "core/registry.h"
#include "datasets/locate.h"
#include "datasets/manifests.h"
#include "datasets/readers.h"
#include "harness/types.h"

namespace ddb {

struct ReadRequest {
  const DatasetSpec& spec;
  const DatasetExtra& extra;
  const Located& located;   // empty for readers that need no files
  const LoadOptions& opts;
  std::string canon;        // canonical description of the files (part of the identity)
  bool verified = false;    // checksums were checked
};

struct DatasetReaderInfo {
  std::string name;
  std::string description;
  std::function<LoadedDataset(const ReadRequest&)> load;
  bool needs_files = true;  // false: nothing to locate (generated data)
};

Registry<DatasetReaderInfo>& dataset_reader_registry();

// What every file reader ends with: checks shapes and labels, applies the limits, normalises with the
// spec's mean/std and computes the identity.
LoadedDataset finish_dataset(const ReadRequest& r, RawImages train, RawImages test);

}  // namespace ddb

// DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{...}); at namespace scope in the reader's file.
#define DDBENCH_REGISTER_DATASET_READER(...) DDBENCH_REGISTER_IN(::ddb::dataset_reader_registry, __VA_ARGS__)
