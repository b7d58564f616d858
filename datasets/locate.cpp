// ddbench: torch-free
// Where a dataset's files are: the candidate directories (--data-root, $DDBENCH_DATA, ./data, the
// system package), which forms of each file are accepted, and the size / SHA-256 checks.
#include "datasets/locate.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "core/errors.h"
#include "core/hashing.h"

namespace fs = std::filesystem;

namespace ddb {

namespace {

// Uncompressed sizes of the MNIST-format files (MNIST and Fashion-MNIST share them), for when the
// data directory holds the gunzipped files instead of the .gz ones.
const std::map<std::string, int64_t> kIdxRawSizes = {{"train-images-idx3-ubyte", 47040016},
                                                     {"train-labels-idx1-ubyte", 60008},
                                                     {"t10k-images-idx3-ubyte", 7840016},
                                                     {"t10k-labels-idx1-ubyte", 10008}};

// Acceptable forms of an expected file, in order of preference.
std::vector<ExpectedFile> alternatives(const DatasetSpec& s, const ExpectedFile& f) {
  std::vector<ExpectedFile> out{f};
  if (s.reader != "idx") return out;
  const std::string gz = ".gz";
  const bool is_gz = f.relpath.size() > gz.size() && f.relpath.compare(f.relpath.size() - gz.size(), gz.size(), gz) == 0;
  ExpectedFile alt;
  if (is_gz) {
    alt.relpath = f.relpath.substr(0, f.relpath.size() - gz.size());
    auto it = kIdxRawSizes.find(fs::path(alt.relpath).filename().string());
    if (it != kIdxRawSizes.end() && f.size >= 0) alt.size = it->second;  // only where the .gz size is pinned
  } else {
    alt.relpath = f.relpath + gz;
  }
  out.push_back(alt);
  return out;
}

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// The folder reader's test split: TinyImageNet val (annotated or re-organised), else val/, else test/.
std::string folder_test_dir(const std::string& dir) {
  for (const char* cand : {"val", "test"}) {
    std::error_code ec;
    if (fs::is_directory(fs::path(dir) / cand, ec)) return (fs::path(dir) / cand).string();
  }
  return "";
}

bool locate_in(const DatasetSpec& s, const std::string& dir, Located& out, std::string& why) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    why = "directory does not exist";
    return false;
  }
  out = Located{};
  out.dir = dir;
  std::vector<std::string> missing;
  for (const auto& f : s.files) {
    bool found = false;
    for (const auto& alt : alternatives(s, f)) {
      const fs::path p = fs::path(dir) / alt.relpath;
      if (path_exists(p)) {
        out.paths.push_back(p.string());
        out.expects.push_back(alt);
        found = true;
        break;
      }
    }
    if (!found) missing.push_back(f.relpath);
  }
  if (s.reader == "folder" && fs::is_directory(fs::path(dir) / "train", ec)) {
    out.test_dir = folder_test_dir(dir);
    if (out.test_dir.empty()) missing.push_back("val/ (or test/)");
  }  // without train/ (and not required by spec.files): one flat folder, used whole as the test split
  if (!missing.empty()) {
    why = "missing ";
    for (size_t i = 0; i < missing.size(); ++i) why += (i ? ", " : "") + missing[i];
    return false;
  }
  return true;
}

std::string join_path(const std::string& root, const std::string& sub) {
  if (sub.empty()) return root;
  return (fs::path(root) / sub).string();
}

// A directory that holds some of the dataset's files but not all: the user pointed at it (or put
// data there) and it is broken. Using another copy instead would give numbers from data the user did
// not point at, so this is an error naming what is missing.
void reject_partial(const DatasetSpec& s, const std::string& dir, const Located& loc, const std::string& why) {
  if (loc.paths.empty()) return;  // nothing of this dataset there
  throw DatasetMissing("dataset '" + s.name + "' in " + dir + " is incomplete: " + why +
                       "; no other copy is used in its place (complete it, or point --data-root / $DDBENCH_DATA "
                       "elsewhere). To get it: " + (s.howto.empty() ? "see the dataset's manifest" : s.howto));
}

}  // namespace

bool is_unsupported(const DatasetSpec& s) { return s.reader.rfind("unsupported:", 0) == 0; }


Located locate(const DatasetSpec& s, const LoadOptions& opts) {
  std::vector<std::string> lines;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return loc;
    reject_partial(s, dir, loc, why);
    lines.push_back("  " + dir + " (" + why + ")");
  }
  std::string msg = "dataset '" + s.name + "' not found; looked in:\n";
  for (const auto& l : lines) msg += l + "\n";
  if (lines.empty()) msg += "  (no directory: no data root and no default location)\n";
  msg += "To get it: " + (s.howto.empty() ? "see the dataset's manifest" : s.howto);
  throw DatasetMissing(msg);
}

// Checks sizes (always) and sha256 (when listed and verify); returns the canonical description of
// the files for the identity.
std::string verify_files(const Located& loc, bool verify) {
  std::string canon;
  for (size_t i = 0; i < loc.paths.size(); ++i) {
    const std::string& path = loc.paths[i];
    const ExpectedFile& ex = loc.expects[i];
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {  // a directory (folder datasets): hashed through the listing
      canon += ex.relpath + "\tdir\n";
      continue;
    }
    const int64_t size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) throw UserError("cannot stat " + path + ": " + ec.message());
    if (ex.size >= 0 && size != ex.size) {
      throw UserError(path + ": size " + std::to_string(size) + " bytes, expected " + std::to_string(ex.size) +
                      " (incomplete download or a different version of the file?)");
    }
    std::string sha = "unverified";
    if (verify) {
      sha = sha256_file(path);
      if (!ex.sha256.empty() && sha != ex.sha256) {
        throw UserError(path + ": sha256 " + sha + ", expected " + ex.sha256 + " (corrupt or a different version)");
      }
    }
    canon += ex.relpath + "\t" + std::to_string(size) + "\t" + sha + "\n";
  }
  return canon;
}

std::vector<std::string> candidate_dirs(const DatasetSpec& spec, const LoadOptions& opts) {
  std::vector<std::string> out;
  if (spec.reader == "generated") return out;
  std::string root = opts.data_root;
  if (root.empty()) {
    const char* env = std::getenv("DDBENCH_DATA");
    root = env && *env ? env : "./data";
  }
  out.push_back(join_path(root, spec.subdir));
  if (!spec.default_dir.empty() && std::find(out.begin(), out.end(), spec.default_dir) == out.end()) {
    out.push_back(spec.default_dir);
  }
  return out;
}

bool dataset_available(const std::string& name, const LoadOptions& opts) {
  const DatasetSpec& s = dataset_spec(name);
  if (s.reader == "generated") return s.info.num_classes > 0 && s.info.shape.channels > 0;
  if (is_unsupported(s)) return false;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return true;
    if (!loc.paths.empty()) return false;  // partial: load_dataset refuses it rather than use the next copy
  }
  return false;
}

std::string dataset_location(const std::string& name, const LoadOptions& opts) {
  const DatasetSpec& s = dataset_spec(name);
  if (s.reader == "generated") return "generated";
  if (is_unsupported(s)) return "";
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return dir;
    if (!loc.paths.empty()) return "";
  }
  return "";
}

std::string dataset_missing_reason(const std::string& name, const LoadOptions& opts) {
  const DatasetSpec& s = dataset_spec(name);
  if (s.reader == "generated") return "";
  if (is_unsupported(s)) return name + " (reader " + s.reader + " not implemented yet)";
  std::string looked;
  for (const auto& dir : candidate_dirs(s, opts)) {
    Located loc;
    std::string why;
    if (locate_in(s, dir, loc, why)) return "";
    if (!loc.paths.empty()) return name + " (incomplete in " + dir + ": " + why + ")";
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  return name + " (looked in " + (looked.empty() ? std::string("no directory") : looked) + ")";
}

}  // namespace ddb
