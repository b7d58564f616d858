// The dataset registry's facts, torch-free: name -> reader, shape, classes, reference normalisation,
// expected files, where the files are looked for. Loading (tensors) is in datasets/registry.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ddb {

// What a network needs to know about its input (ConvNet pads differently for 28x28 one-channel data).
struct ImageShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

// Static facts about a dataset: shape, classes and the reference normalisation.
struct DatasetInfo {
  std::string name;
  ImageShape shape;
  int64_t num_classes = 0;
  std::vector<double> mean;  // per channel, the reference implementation's values
  std::vector<double> std;
  std::vector<std::string> class_names;
};

struct ExpectedFile {
  std::string relpath;   // relative to the dataset directory
  int64_t size = -1;     // bytes; -1 = unchecked
  std::string sha256;    // empty = unchecked
};

struct DatasetSpec {
  std::string name;                 // "fashion-mnist", "mnist", "cifar10", "cifar100", "imagenette", ...
  std::string reader;               // "idx", "cifar10", "cifar100", "folder"
  DatasetInfo info;
  std::vector<ExpectedFile> files;  // what must be present (and how it is checked)
  std::string default_dir;          // absolute default location (Debian package), or empty
  std::string subdir;               // directory name under --data-root / $DDBENCH_DATA
  std::string howto;                // how a user obtains the data
};

const std::vector<DatasetSpec>& dataset_specs();
// Throws UserError listing the valid names.
const DatasetSpec& dataset_spec(const std::string& name);

struct LoadOptions {
  std::string data_root;         // --data-root, else $DDBENCH_DATA, else ./data
  bool verify_checksums = true;  // size always; sha256 when listed
  int64_t train_limit = -1;      // keep the first N training images per class (tests)
  int64_t test_limit = -1;       // keep the first N test images (tests)
};

// Where the data of `spec` is looked for, in order.
std::vector<std::string> candidate_dirs(const DatasetSpec& spec, const LoadOptions& opts);
// Whether load_dataset would find the files (no reading, no checksums). A directory that holds the
// dataset only partly ends the search: load_dataset then throws DatasetMissing naming the missing files
// instead of reading another copy the user did not point at.
bool dataset_available(const std::string& name, const LoadOptions& opts = {});
// Why dataset_available is false, in one line ("cifar10 (looked in a, b)", "fashion-mnist (incomplete
// in DIR: missing t10k-labels-idx1-ubyte)"); empty when it is available.
std::string dataset_missing_reason(const std::string& name, const LoadOptions& opts = {});
// The directory load_dataset would read ("generated" for generated data, "" when not available).
std::string dataset_location(const std::string& name, const LoadOptions& opts = {});
}  // namespace ddb
