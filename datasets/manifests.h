// Dataset manifests (datasets/manifests/*.yaml, format in datasets/manifests/README.md) and the
// registry facts that DatasetSpec has no field for.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/spec.h"

namespace ddb {

struct LoadedDataset;  // harness/types.h (LibTorch); include datasets/registry.h to load

struct DatasetExtra {
  std::string title;
  std::string role = "train";   // train | ood | shifted | corrupted | transfer
  std::string layout;
  std::string source;
  std::string check;
  std::string note;
  std::vector<std::string> class_dirs;  // folder reader: directory (wnid) of label i; empty = sorted dirs
  // folder reader: how images reach the spec's size. "square": bilinear straight to size x size;
  // "center_crop": torchvision Resize(size) (shorter side to size, aspect kept, antialiased bilinear) then
  // CenterCrop(size), as TrustDD loads Textures and Places365.
  std::string resize = "square";
  std::string manifest;                 // the YAML file it came from; empty for built-ins
  int64_t line = 0;                     // 1-based line of the entry in `manifest`
  // classes_of: {dataset: BASE, classes: [i, ...]}: a class subset of another registered dataset, read
  // from the base's files by the base's reader (the catalog copies reader, files, where to look, shape
  // and, unless the entry gives its own, mean/std); label k = the base's label subset_classes[k], images
  // of other classes dropped before the limits and the normalisation (datasets/loading.cpp finish()).
  std::string subset_of;
  std::vector<int64_t> subset_classes;
  int64_t base_num_classes = 0;  // the base's class count (labels are checked against it; generated data draws all)
  // reader "generated"
  uint64_t seed = 0;
  int64_t train_per_class = 100;
  int64_t test_per_class = 20;
};

struct ManifestEntry {
  DatasetSpec spec;
  DatasetExtra extra;
};

// $DDBENCH_MANIFESTS if set and non-empty, else source_root() + "/datasets/manifests" (source_root():
// $DDBENCH_ROOT, else the compiled-in source tree).
std::string manifests_dir();
// One manifest file. Throws UserError naming the file, the line and the field on malformed input.
// An empty file (or one holding only comments) has no datasets.
std::vector<ManifestEntry> read_manifest_file(const std::string& path);
// Every *.yaml (and *.yml) in `dir`, in file-name order; a missing or empty directory has none.
// Throws UserError on a malformed file or a name defined twice.
std::vector<ManifestEntry> read_manifests(const std::string& dir);

// Extra facts of a registered dataset (built-in or manifest). Throws like dataset_spec().
const DatasetExtra& dataset_extra(const std::string& name);
// load_dataset() with the extra facts (folder class order, generated seed and counts).
LoadedDataset load_dataset(const DatasetSpec& spec, const DatasetExtra& extra, const LoadOptions& opts = {});

}  // namespace ddb
