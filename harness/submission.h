// Submission bundles (`ddbench submit`): a folder or .tar.gz holding submission.yaml and the distilled
// sets it lists. open_submission() reads and checks everything before any compute and reports every
// fault it finds, one per line as "file:line: field: why"; the schema is in examples/submission/README.md.
// Torch-free header: the tensor checks live in submission.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"

namespace ddb {

// What a bundle may hold. The defaults are the documented ones; tests shrink them.
struct SubmissionLimits {
  uint64_t max_file_bytes = 2ull << 30;   // one set file (and one archive entry)
  uint64_t max_yaml_bytes = 1ull << 20;   // submission.yaml
  uint64_t max_total_bytes = 8ull << 30;  // a .tar.gz: all entries together, uncompressed
  double max_ratio = 100;                 // a .tar.gz: uncompressed / compressed bytes ...
  uint64_t ratio_min_bytes = 16ull << 20; // ... checked once this much has been uncompressed
  uint64_t max_entries = 10000;           // a .tar.gz: entries
};

struct SubmittedFile {
  std::string path;          // as written in submission.yaml (relative to the bundle root)
  int line = 0;              // its line in submission.yaml
  uint64_t bytes = 0;
  std::string sha256;        // of the file's bytes
  std::string content_hash;  // synset_content_hash: what the set is (seeds its evaluation)
  std::string labels;        // hard | soft
  int64_t images = 0;
};

struct SubmittedSet {
  std::string dataset;
  int64_t ipc = 0;
  int line = 0;
  std::vector<SubmittedFile> files;  // one per seed
};

struct Submission {
  std::string bundle;         // as given on the command line
  std::string root;           // the folder read (a fresh temporary folder for a .tar.gz)
  json meta;                  // method, authors, paper, code, commit, licence (submission.yaml's values)
  std::vector<SubmittedSet> sets;
  std::string yaml_sha256;    // of submission.yaml
  // SHA-256 of "sha256  path\n" for submission.yaml and every listed file in order: the same for a
  // folder and for a .tar.gz of it.
  std::string bundle_sha256;
  std::shared_ptr<void> cleanup;  // removes the temporary folder of a .tar.gz when the last copy goes
  std::string file_path(const SubmittedFile& f) const { return root + "/" + f.path; }
};

// Reads a bundle (folder, or .tar.gz extracted with its own checks into a fresh temporary folder) and
// checks submission.yaml and every set file. Throws UserError listing every fault found, one per line.
Submission open_submission(const std::string& bundle, const SubmissionLimits& limits = {});

// The leaderboard's evaluation for a dataset (an EvalSpec json): one table, in submission.cpp, taken
// from the protocol the in-tree cells use for that dataset. UserError for a dataset without one.
json leaderboard_eval(const std::string& dataset);

}  // namespace ddb
