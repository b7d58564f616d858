// ddbench: internals of the dataset registry shared by its files (catalog, locate, loading): where a
// dataset's files were found and how they are checked. Torch-free.
#pragma once
#include <string>
#include <vector>

#include "datasets/spec.h"

namespace ddb {

struct Located {
  std::string dir;
  std::vector<std::string> paths;     // resolved path of each spec.files entry
  std::vector<ExpectedFile> expects;  // the form found (relpath, size, sha256)
  std::string test_dir;               // folder reader: val/ or test/
};

// A reader named "unsupported:<what>" in a manifest: the format is known but no reader exists yet.
bool is_unsupported(const DatasetSpec& s);
// The first candidate directory holding every expected file. Throws DatasetMissing naming every place
// it looked (or the missing files of a directory that holds the dataset partly) and how to get it.
Located locate(const DatasetSpec& s, const LoadOptions& opts);
// Checks sizes (always) and sha256 (when listed and verify); returns the canonical description of
// the files for the identity.
std::string verify_files(const Located& loc, bool verify);

}  // namespace ddb
