// ddbench: torch-free
#include "datasets/manifests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "harness/runtime.h"
#include "core/errors.h"

namespace fs = std::filesystem;

namespace ddb {

std::string manifests_dir() {
  const char* env = std::getenv("DDBENCH_MANIFESTS");
  if (env && *env) return env;
  return source_root() + "/datasets/manifests";
}

namespace {

// auxiliary: training outliers for outlier exposure (OE's 300K Random Images), neither distilled from nor
// a test set; like ood sets they may omit mean/std (normalised with the in-distribution statistics).
const char* const kRoles[] = {"train", "ood", "shifted", "corrupted", "transfer", "auxiliary"};
// The readers a manifest may name; the reader registry (datasets/reader_registry.h) implements them.
const char* const kReaders[] = {"folder", "idx", "cifar10", "cifar100", "generated", "npy", "svhn-mat"};

class EntryParser {
 public:
  EntryParser(std::string file, const YAML::Node& node) : file_(std::move(file)), node_(node) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& field, const std::string& what) const {
    const YAML::Mark m = at.IsDefined() ? at.Mark() : node_.Mark();
    std::string msg = file_;
    if (m.line >= 0) msg += ":" + std::to_string(m.line + 1);
    msg += ": dataset";
    if (!name_.empty()) msg += " '" + name_ + "'";
    if (!field.empty()) msg += ", field '" + field + "'";
    throw UserError(msg + ": " + what);
  }

  YAML::Node field(const std::string& key) const { return node_[key]; }

  std::string str(const std::string& key, bool required, const std::string& fallback = "") const {
    const YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) fail(node_, key, "missing (required)");
      return fallback;
    }
    if (!n.IsScalar()) fail(n, key, "expected a string");
    return n.as<std::string>();
  }

  double number(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a number");
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      fail(n, key, "expected a number, got '" + n.Scalar() + "'");
    }
  }

  int64_t integer(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected an integer");
    try {
      return n.as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(n, key, "expected an integer, got '" + n.Scalar() + "'");
    }
  }

  std::vector<double> numbers(const std::string& key, bool required) const {
    const YAML::Node n = node_[key];
    std::vector<double> out;
    if (!n.IsDefined() || n.IsNull()) {
      if (required) fail(node_, key, "missing (required)");
      return out;
    }
    if (!n.IsSequence()) fail(n, key, "expected a list of numbers");
    for (const auto& v : n) out.push_back(number(v, key));
    return out;
  }

  void set_name(const std::string& n) { name_ = n; }
  const YAML::Node& node() const { return node_; }

 private:
  std::string file_;
  YAML::Node node_;
  std::string name_;
};

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

ManifestEntry parse_entry(const std::string& file, const YAML::Node& node) {
  EntryParser p(file, node);
  if (!node.IsMap()) p.fail(node, "", "expected a mapping (name:, reader:, shape:, ...)");
  ManifestEntry e;
  DatasetSpec& s = e.spec;
  DatasetExtra& x = e.extra;
  x.manifest = file;
  x.line = node.Mark().line + 1;

  s.name = p.str("name", true);
  p.set_name(s.name);
  if (!valid_name(s.name)) p.fail(p.field("name"), "name", "'" + s.name + "' must match [a-z0-9_.-]+");

  // classes_of: a class subset of another dataset; the catalog fills in the base's reader, files and
  // shape once every manifest is read (catalog.cpp), so those fields are not given here.
  const bool subset = p.field("classes_of").IsDefined() && !p.field("classes_of").IsNull();
  if (subset) {
    const YAML::Node n = p.field("classes_of");
    if (!n.IsMap() || !n["dataset"].IsDefined() || !n["dataset"].IsScalar() || !n["classes"].IsDefined() ||
        !n["classes"].IsSequence() || n["classes"].size() == 0) {
      p.fail(n, "classes_of", "expected {dataset: <name>, classes: [<label>, ...]} with at least one class");
    }
    x.subset_of = n["dataset"].as<std::string>();
    if (x.subset_of == s.name) p.fail(n, "classes_of", "a dataset cannot be a subset of itself");
    for (const auto& c : n["classes"]) {
      const int64_t k = p.integer(c, "classes_of");
      if (k < 0) p.fail(c, "classes_of", "class labels must be >= 0");
      if (std::find(x.subset_classes.begin(), x.subset_classes.end(), k) != x.subset_classes.end()) {
        p.fail(c, "classes_of", "class " + std::to_string(k) + " listed twice");
      }
      x.subset_classes.push_back(k);
    }
    for (const char* f : {"reader", "files", "subdir", "default_dir", "classes"}) {
      if (p.field(f).IsDefined()) {
        p.fail(p.field(f), f, "not allowed with classes_of (the subset uses the base dataset's " + std::string(f) +
                                  (std::string(f) == "classes" ? ", in the order of classes_of)" : ")"));
      }
    }
  }
  s.reader = subset ? "" : p.str("reader", true);
  const bool unsupported = s.reader.rfind("unsupported:", 0) == 0;
  if (subset) {
    // filled in by the catalog
  } else if (unsupported) {
    if (s.reader.size() == std::string("unsupported:").size()) {
      p.fail(p.field("reader"), "reader", "'unsupported:' needs a format name, e.g. unsupported:npz");
    }
  } else if (std::find(std::begin(kReaders), std::end(kReaders), s.reader) == std::end(kReaders)) {
    p.fail(p.field("reader"), "reader",
           "'" + s.reader + "' is not one of folder, idx, cifar10, cifar100, generated, npy, svhn-mat, unsupported:<format>");
  }

  x.title = p.str("title", false);
  x.role = p.str("role", false, "train");
  if (std::find(std::begin(kRoles), std::end(kRoles), x.role) == std::end(kRoles)) {
    p.fail(p.field("role"), "role", "'" + x.role + "' is not one of train, ood, shifted, corrupted, transfer, auxiliary");
  }
  x.layout = p.str("layout", false);
  x.resize = p.str("resize", false, "square");
  if (x.resize != "square" && x.resize != "center_crop")
    p.fail(p.field("resize"), "resize", "'" + x.resize + "' is not one of square, center_crop");
  x.source = p.str("source", false);
  x.check = p.str("check", false);
  x.note = p.str("note", false);
  s.howto = p.str("howto", false);
  const bool needs_files = !subset && !unsupported && s.reader != "generated";
  s.subdir = p.str("subdir", false, needs_files ? s.name : "");
  s.default_dir = p.str("default_dir", false);
  if ((needs_files && s.subdir.empty()) || (!s.subdir.empty() && s.subdir.front() == '/') ||
      s.subdir.find("..") != std::string::npos) {
    p.fail(p.field("subdir"), "subdir", "'" + s.subdir + "' must be a relative path below the data root");
  }

  // shape: [C, H, W]
  DatasetInfo& info = s.info;
  info.name = s.name;
  {
    // Optional only for entries no loader reads (unsupported:*, generated transforms of another
    // dataset such as RDD's corruptions); 0x0x0 = not stated.
    const YAML::Node n = p.field("shape");
    if (!n.IsDefined() || n.IsNull()) {
      if (needs_files) p.fail(node, "shape", "missing (required)");
      info.shape = ImageShape{0, 0, 0};
    } else {
      if (!n.IsSequence() || n.size() != 3) p.fail(n, "shape", "expected [channels, height, width]");
      const int64_t c = p.integer(n[0], "shape"), h = p.integer(n[1], "shape"), w = p.integer(n[2], "shape");
      if (c <= 0 || h <= 0 || w <= 0) p.fail(n, "shape", "dimensions must be positive");
      info.shape = ImageShape{c, h, w};
      if (s.reader == "folder" && ((c != 3 && c != 1) || h != w)) {
        p.fail(n, "shape", "the folder reader produces square RGB or grey images: expected [3, S, S] or [1, S, S]");
      }
    }
  }
  // Required for datasets distilled from (role train); OOD/shifted sets are normalised with the
  // in-distribution statistics by whoever uses them, so they may omit them (loaded in [0, 1]).
  const bool needs_stats = needs_files && x.role == "train";  // a subset inherits its base's
  info.mean = p.numbers("mean", needs_stats);
  info.std = p.numbers("std", needs_stats);
  // A subset without a shape of its own gets its base's; resolve_subset (catalog.cpp) checks its
  // statistics against that.
  const bool shape_from_base = subset && info.shape.channels == 0;
  if (!shape_from_base && !info.mean.empty() && static_cast<int64_t>(info.mean.size()) != info.shape.channels) {
    p.fail(p.field("mean"), "mean", "has " + std::to_string(info.mean.size()) + " values for " +
                                        std::to_string(info.shape.channels) + " channels");
  }
  if (!shape_from_base && !info.std.empty() && static_cast<int64_t>(info.std.size()) != info.shape.channels) {
    p.fail(p.field("std"), "std", "has " + std::to_string(info.std.size()) + " values for " +
                                      std::to_string(info.shape.channels) + " channels");
  }
  if (info.mean.size() != info.std.size()) p.fail(p.field("std"), "std", "mean and std must both be given");
  for (double v : info.std) {
    if (!(v > 0)) p.fail(p.field("std"), "std", "values must be positive");
  }

  // classes: [{wnid: ..., name: ...}] or [name, ...]
  {
    const YAML::Node n = p.field("classes");
    if (n.IsDefined() && !n.IsNull()) {
      if (!n.IsSequence()) p.fail(n, "classes", "expected a list of {wnid: ..., name: ...} or names");
      for (const auto& c : n) {
        std::string dir, name;
        if (c.IsScalar()) {
          dir = name = c.as<std::string>();
        } else if (c.IsMap()) {
          for (const char* key : {"wnid", "dir", "id"}) {
            if (c[key].IsDefined() && c[key].IsScalar()) {
              dir = c[key].as<std::string>();
              break;
            }
          }
          if (c["name"].IsDefined()) {
            if (!c["name"].IsScalar()) p.fail(c["name"], "classes", "class 'name' must be a string");
            name = c["name"].as<std::string>();
          }
          if (dir.empty() && name.empty()) p.fail(c, "classes", "class entry needs 'wnid' (or 'dir') and/or 'name'");
          if (dir.empty()) dir = name;
          if (name.empty()) name = dir;
        } else {
          p.fail(c, "classes", "expected {wnid: ..., name: ...} or a name");
        }
        if (std::find(x.class_dirs.begin(), x.class_dirs.end(), dir) != x.class_dirs.end()) {
          p.fail(c, "classes", "class '" + dir + "' listed twice");
        }
        x.class_dirs.push_back(dir);
        info.class_names.push_back(name);
      }
    }
  }
  info.num_classes = static_cast<int64_t>(subset ? x.subset_classes.size() : info.class_names.size());
  {
    const YAML::Node n = p.field("num_classes");
    if (n.IsDefined() && !n.IsNull()) {
      const int64_t k = p.integer(n, "num_classes");
      if (k <= 0) p.fail(n, "num_classes", "must be positive");
      if (info.num_classes > 0 && k != info.num_classes) {
        p.fail(n, "num_classes", std::to_string(k) + " but " + std::to_string(info.num_classes) + " classes are listed");
      }
      info.num_classes = k;
    }
  }
  if (info.num_classes == 0) {
    if (s.reader == "idx" || s.reader == "cifar10") info.num_classes = 10;
    if (s.reader == "cifar100") info.num_classes = 100;
    if (s.reader == "npy") {  // no labels in the files: one class, label 0 (datasets/npy.cpp)
      info.num_classes = 1;
      info.class_names = {"unlabelled"};
    }
  }
  if (s.reader != "folder") {
    x.class_dirs.clear();  // only the folder reader maps labels to directories
  }

  // files: [{path, size, sha256}] (optional checks)
  {
    const YAML::Node n = p.field("files");
    if (n.IsDefined() && !n.IsNull()) {
      if (!n.IsSequence()) p.fail(n, "files", "expected a list of {path: ..., size: ..., sha256: ...}");
      for (const auto& f : n) {
        if (!f.IsMap() || !f["path"].IsDefined() || !f["path"].IsScalar()) {
          p.fail(f, "files", "each entry needs 'path' (and optionally size, sha256)");
        }
        ExpectedFile ef;
        ef.relpath = f["path"].as<std::string>();
        if (f["size"].IsDefined()) ef.size = p.integer(f["size"], "files");
        if (f["sha256"].IsDefined()) {
          ef.sha256 = f["sha256"].as<std::string>();
          if (ef.sha256.size() != 64 ||
              ef.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
            p.fail(f["sha256"], "files", "sha256 must be 64 lowercase hex digits");
          }
        }
        s.files.push_back(ef);
      }
    }
  }

  // A training folder dataset needs train/ (and val/ or test/, checked when it is looked for); other
  // folder datasets may also be one flat folder used whole as the test split.
  if (s.reader == "folder" && x.role == "train" &&
      std::none_of(s.files.begin(), s.files.end(), [](const ExpectedFile& f) { return f.relpath == "train"; })) {
    s.files.insert(s.files.begin(), ExpectedFile{"train", -1, ""});
  }

  if (s.reader == "generated") {
    if (info.num_classes > 0 && info.shape.channels == 0) {
      p.fail(node, "shape", "a generated dataset with classes needs a shape");
    }
    if (p.field("seed").IsDefined()) x.seed = static_cast<uint64_t>(p.integer(p.field("seed"), "seed"));
    if (p.field("train_per_class").IsDefined()) {
      x.train_per_class = p.integer(p.field("train_per_class"), "train_per_class");
    }
    if (p.field("test_per_class").IsDefined()) {
      x.test_per_class = p.integer(p.field("test_per_class"), "test_per_class");
    }
    if (x.train_per_class <= 0 || x.test_per_class <= 0) {
      p.fail(node, "train_per_class", "per-class counts must be positive");
    }
  }
  return e;
}

}  // namespace

std::vector<ManifestEntry> read_manifest_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw UserError(path + ": cannot read manifest");
  } catch (const YAML::Exception& e) {
    throw UserError(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                    ": YAML syntax error: " + e.msg);
  }
  std::vector<ManifestEntry> out;
  if (!root.IsDefined() || root.IsNull()) return out;  // empty file or only comments
  if (!root.IsMap()) {
    throw UserError(path + ":" + std::to_string(root.Mark().line + 1) +
                    ": expected a mapping with a 'datasets:' list at the top level");
  }
  const YAML::Node list = root["datasets"];
  if (!list.IsDefined()) {
    throw UserError(path + ":" + std::to_string(root.Mark().line + 1) + ": field 'datasets' missing (required)");
  }
  if (list.IsNull()) return out;
  if (!list.IsSequence()) {
    throw UserError(path + ":" + std::to_string(list.Mark().line + 1) + ": field 'datasets': expected a list");
  }
  std::map<std::string, int64_t> seen;
  try {
    for (const auto& node : list) {
      ManifestEntry e = parse_entry(path, node);
      auto it = seen.find(e.spec.name);
      if (it != seen.end()) {
        throw UserError(path + ":" + std::to_string(e.extra.line) + ": dataset '" + e.spec.name +
                        "', field 'name': already defined at line " + std::to_string(it->second));
      }
      seen[e.spec.name] = e.extra.line;
      out.push_back(std::move(e));
    }
  } catch (const YAML::Exception& e) {  // a conversion the checks above did not anticipate
    throw UserError(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return out;
}

std::vector<ManifestEntry> read_manifests(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string ext = it->path().extension().string();
    std::error_code ec2;
    if ((ext == ".yaml" || ext == ".yml") && it->is_regular_file(ec2)) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<ManifestEntry> out;
  std::map<std::string, std::string> where;
  for (const auto& f : files) {
    for (auto& e : read_manifest_file(f)) {
      auto it = where.find(e.spec.name);
      if (it != where.end()) {
        throw UserError(f + ":" + std::to_string(e.extra.line) + ": dataset '" + e.spec.name +
                        "', field 'name': already defined in " + it->second);
      }
      where[e.spec.name] = f + ":" + std::to_string(e.extra.line);
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace ddb
