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

#define DDBENCH_READER_CONCAT_INNER(a, b) a##b
#define DDBENCH_READER_CONCAT(a, b) DDBENCH_READER_CONCAT_INNER(a, b)
// DDBENCH_REGISTER_DATASET_READER(DatasetReaderInfo{...}); at namespace scope in the reader's file.
#define DDBENCH_REGISTER_DATASET_READER(...)                                                     \
  static const bool DDBENCH_READER_CONCAT(ddbench_reader_registered_, __COUNTER__) =            \
      [](::ddb::DatasetReaderInfo r) { const std::string n = r.name; return ::ddb::dataset_reader_registry().add(n, std::move(r)); }(__VA_ARGS__)
