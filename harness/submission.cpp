#include "harness/submission.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/hashing.h"
#include "datasets/spec.h"
#include "harness/synset_io.h"
#include "harness/yaml_json.h"

namespace ddb {

namespace fs = std::filesystem;

// The leaderboard protocol per dataset: the evaluation most in-tree cells use for it, so a submitted
// row stands next to the in-tree rows of the same dataset. The DC/DSA/DM convention (ConvNet, DC
// protocol with DSA, 1000 epochs, 5 fresh networks: suites/quickstart.yaml's paper tier and 73 other
// cells) for 28x28 and 32x32 data; its deeper ConvNets where the suites use them for larger images
// (ConvNetD4 at 64x64, ConvNetD5 at 128x128), still under the DC protocol (a submitted set carries no
// learned lr). toy28/toy32 are the generated test data: a seconds-long protocol for the tests. The
// protocol is fixed so that every submitted row of a dataset is comparable: a bundle cannot override it.
json leaderboard_eval(const std::string& dataset) {
  if (dataset == "toy28" || dataset == "toy32")
    return {{"protocol", "dc"}, {"net", "ConvNetW32"}, {"epochs", 10}, {"augment", "none"}, {"runs", 2}};
  const DatasetSpec& spec = dataset_spec(dataset);
  const int64_t h = spec.info.shape.height, w = spec.info.shape.width;
  std::string net;
  if (h <= 32 && w <= 32) net = "ConvNet";
  else if (h == 64 && w == 64) net = "ConvNetD4";
  else if (h == 128 && w == 128) net = "ConvNetD5";
  else
    throw UserError("dataset " + dataset + " (" + std::to_string(h) + "x" + std::to_string(w) +
                    ") has no leaderboard protocol (harness/submission.cpp leaderboard_eval)");
  return {{"protocol", "dc"}, {"net", net}, {"epochs", 1000}, {"augment", "dsa"}, {"runs", 5}};
}

namespace {

// Every fault found, in the order found; thrown together at the end.
struct Faults {
  struct Fault {
    std::string where;
    int line;
    std::string text;
  };
  std::vector<Fault> lines;
  void add(const std::string& where, int line, const std::string& field, const std::string& why) {
    std::string s = where;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!field.empty()) s += field + ": ";
    lines.push_back(Fault{where, line, s + why});
  }
  bool any() const { return !lines.empty(); }
  // In file and line order (a fault without a line first); found order within a line.
  std::vector<std::string> sorted() const {
    std::vector<Fault> f = lines;
    std::stable_sort(f.begin(), f.end(), [](const Fault& a, const Fault& b) {
      return a.where != b.where ? a.where < b.where : a.line < b.line;
    });
    std::vector<std::string> out;
    for (const auto& x : f) out.push_back(x.text);
    return out;
  }
};

std::string human_bytes(uint64_t b) {
  std::ostringstream o;
  if (b >= (1ull << 30)) o << static_cast<double>(b) / (1ull << 30) << " GiB";
  else if (b >= (1ull << 20)) o << static_cast<double>(b) / (1ull << 20) << " MiB";
  else if (b >= (1ull << 10)) o << static_cast<double>(b) / (1ull << 10) << " KiB";
  else o << b << " bytes";
  return o.str();
}

// Why a relative path written in a bundle (or an archive entry's name) may not be used; empty when fine.
std::string path_fault(const std::string& p) {
  if (p.empty()) return "empty path";
  if (p.find('\0') != std::string::npos) return "path contains a NUL byte";
  if (p[0] == '/' || fs::path(p).is_absolute() || fs::path(p).has_root_name())
    return "absolute path '" + p + "': paths are relative to the bundle";
  if (p.find('\\') != std::string::npos) return "path '" + p + "' contains a backslash: use '/'";
  for (const auto& part : fs::path(p))
    if (part == "..") return "path '" + p + "' contains '..': paths cannot leave the bundle";
  return "";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- .tar.gz -------------------------------------------------------------------------------------

struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Extracts `archive_path` into the fresh folder `dest`. Refuses (as faults) entries with absolute paths or
// '..', links, devices and other special files, duplicates; stops at the first size fault (an entry over
// the file limit, the total over its limit, or a compression ratio of a decompression bomb), counting
// the bytes actually decompressed, never the sizes the headers claim.
void extract_tar_gz(const std::string& archive_path, const std::string& dest, const SubmissionLimits& lim,
                    Faults& faults) {
  struct archive* a = archive_read_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    faults.add(archive_path, 0, "", std::string("not a readable .tar.gz: ") + archive_error_string(a));
    return;
  }
  std::error_code ec;
  const uint64_t compressed = std::max<uint64_t>(1, fs::file_size(archive_path, ec));
  uint64_t total = 0, entries = 0;
  std::set<std::string> seen;
  std::vector<char> buf(1 << 16);
  struct archive_entry* e = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      faults.add(archive_path, 0, "", std::string("corrupt archive: ") + archive_error_string(a));
      return;
    }
    const char* raw = archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    const std::string where = archive_path + ": entry '" + name + "'";
    if (++entries > lim.max_entries) {
      faults.add(archive_path, 0, "", "more than " + std::to_string(lim.max_entries) + " entries");
      return;
    }
    while (name.size() > 2 && name.compare(0, 2, "./") == 0) name.erase(0, 2);
    if (name == "." || name == "./") continue;
    const std::string bad = path_fault(name);
    const auto type = archive_entry_filetype(e);
    if (!bad.empty()) {
      faults.add(where, 0, "", bad);
      continue;
    }
    if (archive_entry_hardlink(e)) {
      faults.add(where, 0, "", std::string("hard link to '") + archive_entry_hardlink(e) + "': links are refused");
      continue;
    }
    if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(e);
      faults.add(where, 0, "", std::string("symbolic link to '") + (t ? t : "") + "': links are refused");
      continue;
    }
    std::string key = name;
    while (!key.empty() && key.back() == '/') key.pop_back();
    if (type == AE_IFDIR) {
      fs::create_directories(fs::path(dest) / key, ec);
      continue;
    }
    if (type != AE_IFREG) {
      faults.add(where, 0, "", "not a regular file or folder (device, fifo or socket): refused");
      continue;
    }
    if (!seen.insert(key).second) {
      faults.add(where, 0, "", "appears twice in the archive");
      continue;
    }
    const fs::path out_path = fs::path(dest) / key;
    fs::create_directories(out_path.parent_path(), ec);
    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    if (!out) {
      faults.add(where, 0, "", "cannot be extracted (" + out_path.string() + ")");
      continue;
    }
    uint64_t file_bytes = 0;
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        faults.add(where, 0, "", std::string("corrupt data: ") + archive_error_string(a));
        return;
      }
      file_bytes += static_cast<uint64_t>(n);
      total += static_cast<uint64_t>(n);
      if (file_bytes > lim.max_file_bytes) {
        faults.add(where, 0, "", "larger than the " + human_bytes(lim.max_file_bytes) + " limit per file");
        return;
      }
      if (total > lim.max_total_bytes) {
        faults.add(archive_path, 0, "",
                   "decompression bomb: more than " + human_bytes(lim.max_total_bytes) + " uncompressed (limit)");
        return;
      }
      if (total >= lim.ratio_min_bytes && static_cast<double>(total) / static_cast<double>(compressed) > lim.max_ratio) {
        faults.add(archive_path, 0, "",
                   "decompression bomb: " + human_bytes(compressed) + " compressed expands to more than " +
                       human_bytes(total) + " (ratio over the limit of " + std::to_string(static_cast<int>(lim.max_ratio)) + ")");
        return;
      }
      out.write(buf.data(), n);
    }
    if (!out) faults.add(where, 0, "", "write failed while extracting");
  }
}

// ---- submission.yaml -----------------------------------------------------------------------------

struct YamlCtx {
  std::string file;  // as shown in messages
  Faults& faults;
  void add(const YAML::Node& n, const std::string& field, const std::string& why) { faults.add(file, yaml_line(n), field, why); }
};

// The keys of a mapping with their nodes; duplicate keys (which yaml-cpp accepts silently, keeping both
// pairs) and keys outside `allowed` are faults.
std::map<std::string, std::pair<YAML::Node, YAML::Node>> read_map(const YAML::Node& m, const std::string& where,
                                                                   const std::vector<std::string>& allowed,
                                                                   YamlCtx& y) {
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> out;
  for (const auto& kv : m) {
    if (!kv.first.IsScalar()) {
      y.add(kv.first, where, "a key must be a plain name");
      continue;
    }
    const std::string k = kv.first.Scalar();
    const std::string field = where.empty() ? k : where + "." + k;
    if (out.count(k)) {
      y.add(kv.first, field, "duplicate key (first at line " + std::to_string(yaml_line(out[k].first)) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      y.add(kv.first, field, "unknown key (allowed: " + list + ")");
      continue;
    }
    out.emplace(k, std::make_pair(kv.first, kv.second));
  }
  return out;
}

bool has_control_chars(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A non-empty single-line string of at most `max` characters; "" (with a fault) otherwise.
std::string read_string(const YAML::Node& n, const std::string& field, size_t max, YamlCtx& y) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    y.add(n, field, "must be a non-empty string");
    return "";
  }
  const std::string s = n.Scalar();
  if (s.size() > max) {
    y.add(n, field, "longer than " + std::to_string(max) + " characters");
    return "";
  }
  if (has_control_chars(s)) {
    y.add(n, field, "contains control characters (newline, tab, escape ...)");
    return "";
  }
  return s;
}

std::string read_url(const YAML::Node& n, const std::string& field, YamlCtx& y) {
  const std::string s = read_string(n, field, 500, y);
  if (s.empty()) return s;
  static const std::regex url(R"(https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]*)?)");
  if (!std::regex_match(s, url)) {
    y.add(n, field, "'" + s + "' is not an http(s) URL");
    return "";
  }
  return s;
}

// An integer scalar (plain, not quoted); nullopt with a fault otherwise.
std::optional<int64_t> read_int(const YAML::Node& n, const std::string& field, YamlCtx& y) {
  const json j = n.IsScalar() ? yaml_to_json(n) : json();
  if (!j.is_number_integer()) {
    y.add(n, field, "must be an integer");
    return std::nullopt;
  }
  return j.get<int64_t>();
}

// ---- tensor files --------------------------------------------------------------------------------

void check_tensor_file(const std::string& abs, SubmittedFile& f, const SubmittedSet& set, const DatasetSpec* ds,
                       const std::string& yaml_name, const std::string& field, Faults& faults) {
  auto fault = [&](const std::string& why) { faults.add(yaml_name, f.line, field, f.path + ": " + why); };
  SynsetFileFacts facts;
  SyntheticSet s;
  try {
    s = load_synset(abs, 0, &facts);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (msg.compare(0, abs.size(), abs) == 0) msg = msg.substr(abs.size() + (msg.size() > abs.size() + 1 ? 2 : 0));
    const auto nl = msg.find('\n');
    if (nl != std::string::npos) msg.resize(nl);
    fault("cannot be read as a set: " + msg);
    return;
  }
  s.meta = json::object();  // a sidecar FILE.json in a bundle is not read
  if (facts.sets_in_file > 1)
    fault("holds " + std::to_string(facts.sets_in_file) + " sets: one set per file (one file per seed)");
  static const std::set<std::string> float_types = {"Float", "Double", "Half", "BFloat16"};
  if (!float_types.count(facts.images_dtype))
    fault("images are " + facts.images_dtype + ": float images in the dataset's normalised space expected");
  const int64_t n = s.images.size(0);
  f.images = n;
  if (ds) {
    const auto& sh = ds->info.shape;
    if (s.images.size(1) != sh.channels)
      fault("images have " + std::to_string(s.images.size(1)) + " channels but " + ds->name + " has " +
            std::to_string(sh.channels));
    if (s.images.size(2) != sh.height || s.images.size(3) != sh.width)
      fault("images are " + std::to_string(s.images.size(2)) + "x" + std::to_string(s.images.size(3)) + " but " +
            ds->name + " is " + std::to_string(sh.height) + "x" + std::to_string(sh.width));
  }
  const int64_t bad_values = (~torch::isfinite(s.images)).sum().item<int64_t>();
  if (bad_values > 0)
    fault(std::to_string(bad_values) + " of " + std::to_string(s.images.numel()) + " image values are NaN or Inf");
  const int64_t K = ds ? ds->info.num_classes : 0;
  if (s.labels.dim() == 1) {
    f.labels = "hard";
    if (facts.labels_dtype != "Long") fault("labels are " + facts.labels_dtype + ": int64 (torch.long) class indices expected");
    if (ds && n > 0) {
      const int64_t lo = s.labels.min().item<int64_t>(), hi = s.labels.max().item<int64_t>();
      if (lo < 0 || hi >= K)
        fault("labels range over [" + std::to_string(lo) + ", " + std::to_string(hi) + "] but " + ds->name + " has " +
              std::to_string(K) + " classes (0.." + std::to_string(K - 1) + ")");
      else if (set.ipc > 0) {
        const auto counts = torch::bincount(s.labels, {}, K);
        std::string wrong;
        int shown = 0, count_wrong = 0;
        for (int64_t c = 0; c < K; ++c) {
          const int64_t k = counts[c].item<int64_t>();
          if (k == set.ipc) continue;
          ++count_wrong;
          if (shown++ < 5) wrong += (wrong.empty() ? "" : ", ") + std::string("class ") + std::to_string(c) + " has " + std::to_string(k);
        }
        if (count_wrong)
          fault("images per class must equal ipc " + std::to_string(set.ipc) + ": " + wrong +
                (count_wrong > 5 ? " (and " + std::to_string(count_wrong - 5) + " more classes)" : ""));
      }
    }
  } else {
    f.labels = "soft";
    if (ds && s.labels.size(1) != K)
      fault("soft labels have " + std::to_string(s.labels.size(1)) + " columns but " + ds->name + " has " +
            std::to_string(K) + " classes");
    const int64_t bad_labels = (~torch::isfinite(s.labels)).sum().item<int64_t>();
    if (bad_labels > 0) {
      fault(std::to_string(bad_labels) + " soft-label values are NaN or Inf");
    } else if (n > 0) {
      const auto off = (s.labels.to(torch::kDouble).sum(1) - 1.0).abs();
      const int64_t rows = (off > 1e-3).sum().item<int64_t>();
      if (rows > 0)
        fault(std::to_string(rows) + " soft-label rows do not sum to 1 (within 1e-3; worst off by " +
              std::to_string(off.max().item<double>()) + "): store probabilities, not logits");
      if ((s.labels < 0).any().item<bool>()) fault("soft labels have negative values: store probabilities");
    }
  }
  if (ds && set.ipc > 0 && n != set.ipc * K)
    fault(std::to_string(n) + " images but ipc " + std::to_string(set.ipc) + " x " + std::to_string(K) + " classes = " +
          std::to_string(set.ipc * K));
  f.content_hash = synset_content_hash(s);
}

// A listed file: path rules, every component a real folder or file (no symlinks), inside the root, size.
// Returns the absolute path, or "" after a fault.
std::string check_file_path(const std::string& root, const std::string& rel, const SubmissionLimits& lim,
                            const std::function<void(const std::string&)>& fault, uint64_t& bytes) {
  const std::string bad = path_fault(rel);
  if (!bad.empty()) {
    fault(bad);
    return "";
  }
  fs::path cur = root;
  std::error_code ec;
  for (const auto& part : fs::path(rel)) {
    if (part.empty() || part == ".") continue;
    cur /= part;
    const auto st = fs::symlink_status(cur, ec);
    if (ec || !fs::exists(st)) {
      fault("no such file in the bundle");
      return "";
    }
    if (fs::is_symlink(st)) {
      fault("'" + cur.lexically_relative(root).string() + "' is a symbolic link: links are refused");
      return "";
    }
  }
  if (!fs::is_regular_file(fs::symlink_status(cur, ec))) {
    fault("not a regular file");
    return "";
  }
  const fs::path canon_root = fs::canonical(root, ec), canon = fs::canonical(cur, ec);
  const auto rel_check = canon.lexically_relative(canon_root).string();
  if (ec || rel_check.empty() || rel_check.compare(0, 2, "..") == 0) {
    fault("resolves outside the bundle");
    return "";
  }
  bytes = fs::file_size(cur, ec);
  if (bytes > lim.max_file_bytes) {
    fault(human_bytes(bytes) + " is over the " + human_bytes(lim.max_file_bytes) + " limit per file");
    return "";
  }
  return cur.string();
}

}  // namespace

Submission open_submission(const std::string& bundle, const SubmissionLimits& lim) {
  Faults faults;
  Submission sub;
  sub.bundle = bundle;
  auto refuse = [&]() {
    std::string msg = "submission " + bundle + " refused (" + std::to_string(faults.lines.size()) +
                      (faults.lines.size() == 1 ? " fault" : " faults") + "; nothing was evaluated or stored):";
    for (const auto& l : faults.sorted()) msg += "\n  " + l;
    throw UserError(msg);
  };
  std::error_code ec;
  const auto bst = fs::symlink_status(bundle, ec);
  std::string shown_prefix;  // how files of the bundle are named in messages
  if (ec || !fs::exists(bst)) throw UserError(bundle + ": no such folder or file");
  if (fs::is_symlink(bst)) throw UserError(bundle + ": is a symbolic link; give the bundle itself");
  if (fs::is_directory(bst)) {
    sub.root = fs::absolute(bundle).lexically_normal().string();
    shown_prefix = (fs::path(bundle) / "").string();
  } else if (fs::is_regular_file(bst) && (ends_with(bundle, ".tar.gz") || ends_with(bundle, ".tgz"))) {
    auto tmp = std::make_shared<TempDir>();
    std::string templ = (fs::temp_directory_path() / "ddbench-submit-XXXXXX").string();
    if (!mkdtemp(templ.data())) throw std::runtime_error("cannot create a temporary folder under " + fs::temp_directory_path().string());
    tmp->path = templ;
    sub.cleanup = tmp;
    extract_tar_gz(bundle, tmp->path, lim, faults);
    if (faults.any()) refuse();
    sub.root = tmp->path;
    // `tar czf b.tar.gz mybundle/`: submission.yaml inside one top-level folder.
    if (!fs::exists(fs::path(sub.root) / "submission.yaml")) {
      std::vector<fs::path> dirs;
      for (const auto& d : fs::directory_iterator(sub.root)) dirs.push_back(d.path());
      if (dirs.size() == 1 && fs::is_directory(fs::symlink_status(dirs[0])) && fs::exists(dirs[0] / "submission.yaml")) {
        sub.root = dirs[0].string();
        shown_prefix = bundle + ":" + dirs[0].filename().string() + "/";
      }
    }
    if (shown_prefix.empty()) shown_prefix = bundle + ":";
  } else {
    throw UserError(bundle + ": a bundle is a folder or a .tar.gz holding submission.yaml");
  }

  const std::string yaml_name = shown_prefix + "submission.yaml";
  const fs::path yaml_path = fs::path(sub.root) / "submission.yaml";
  const auto yst = fs::symlink_status(yaml_path, ec);
  if (ec || !fs::exists(yst)) {
    faults.add(yaml_name, 0, "", "missing: a bundle holds submission.yaml at its top (examples/submission/README.md)");
    refuse();
  }
  if (!fs::is_regular_file(yst)) {
    faults.add(yaml_name, 0, "", fs::is_symlink(yst) ? "is a symbolic link: links are refused" : "not a regular file");
    refuse();
  }
  if (fs::file_size(yaml_path) > lim.max_yaml_bytes) {
    faults.add(yaml_name, 0, "", "over the " + human_bytes(lim.max_yaml_bytes) + " limit");
    refuse();
  }
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(yaml_path.string());
  } catch (const YAML::Exception& e) {
    faults.add(yaml_name, e.mark.line + 1, "", "YAML syntax error: " + e.msg);
    refuse();
  }
  YamlCtx y{yaml_name, faults};
  if (!doc.IsMap()) {
    y.add(doc, "", "the top level must be a mapping (method, authors, ..., sets)");
    refuse();
  }
  sub.yaml_sha256 = sha256_file(yaml_path.string());

  static const std::vector<std::string> top_keys = {"method", "authors", "paper", "code", "commit",
                                                    "licence", "license", "contact", "description", "sets"};
  auto top = read_map(doc, "", top_keys, y);
  auto require = [&](const std::string& k) -> const YAML::Node* {
    if (top.count(k)) return &top[k].second;
    faults.add(yaml_name, 0, k, "missing (required)");
    return nullptr;
  };
  json meta = json::object();
  if (const auto* n = require("method")) {
    const std::string m = read_string(*n, "method", 100, y);
    if (!m.empty()) meta["method"] = m;
  }
  if (const auto* n = require("authors")) {
    if (!n->IsSequence() || n->size() == 0) {
      y.add(*n, "authors", "must be a non-empty list of names");
    } else {
      json a = json::array();
      int i = 0;
      for (const auto& item : *n) {
        const std::string s = read_string(item, "authors[" + std::to_string(i++) + "]", 200, y);
        if (!s.empty()) a.push_back(s);
      }
      meta["authors"] = a;
    }
  }
  if (top.count("paper")) {
    const std::string u = read_url(top["paper"].second, "paper", y);
    if (!u.empty()) meta["paper"] = u;
  }
  if (const auto* n = require("code")) {
    const std::string u = read_url(*n, "code", y);
    if (!u.empty()) meta["code"] = u;
  }
  if (const auto* n = require("commit")) {
    const std::string c = n->IsScalar() ? n->Scalar() : "";
    static const std::regex hex("[0-9a-f]{7,64}");
    if (!std::regex_match(c, hex))
      y.add(*n, "commit", "must be the code's commit as 7 to 64 lowercase hex digits (quote it if it reads as a number)");
    else
      meta["commit"] = c;
  }
  if (top.count("licence") && top.count("license")) {
    y.add(top["license"].first, "license", "given twice (licence and license)");
  } else if (!top.count("licence") && !top.count("license")) {
    faults.add(yaml_name, 0, "licence", "missing (required: the sets' licence, an SPDX id such as CC-BY-4.0)");
  } else {
    const auto& n = top.count("licence") ? top["licence"].second : top["license"].second;
    const std::string l = read_string(n, "licence", 100, y);
    if (!l.empty()) meta["licence"] = l;
  }
  for (const char* k : {"contact", "description"})
    if (top.count(k)) {
      const std::string s = read_string(top[k].second, k, k == std::string("contact") ? 200 : 2000, y);
      if (!s.empty()) meta[k] = s;
    }

  std::set<std::pair<std::string, int64_t>> set_keys;
  std::set<std::string> all_paths;
  if (const auto* sets = require("sets")) {
    if (!sets->IsSequence() || sets->size() == 0) {
      y.add(*sets, "sets", "must be a non-empty list of {dataset, ipc, files}");
    } else {
      int si = 0;
      for (const auto& sn : *sets) {
        const std::string sf = "sets[" + std::to_string(si++) + "]";
        if (!sn.IsMap()) {
          y.add(sn, sf, "must be a mapping {dataset, ipc, files}");
          continue;
        }
        auto m = read_map(sn, sf, {"dataset", "ipc", "files", "eval"}, y);
        SubmittedSet set;
        set.line = yaml_line(sn);
        if (m.count("eval"))
          y.add(m["eval"].first, sf + ".eval",
                "the leaderboard evaluates every set of a dataset under one fixed protocol (ddbench submit --help); "
                "other settings: ddbench evaluate");
        const DatasetSpec* ds = nullptr;
        if (!m.count("dataset")) {
          y.add(sn, sf + ".dataset", "missing (required)");
        } else {
          set.dataset = read_string(m["dataset"].second, sf + ".dataset", 100, y);
          if (!set.dataset.empty()) {
            try {
              ds = &dataset_spec(set.dataset);
              (void)leaderboard_eval(set.dataset);
            } catch (const UserError& e) {
              std::string msg = e.what();
              if (msg.size() > 400) msg = msg.substr(0, 400) + " ...";
              y.add(m["dataset"].second, sf + ".dataset", msg);
              ds = nullptr;
            }
          }
        }
        if (!m.count("ipc")) {
          y.add(sn, sf + ".ipc", "missing (required)");
        } else {
          if (const auto ipc = read_int(m["ipc"].second, sf + ".ipc", y)) {
            if (*ipc <= 0) y.add(m["ipc"].second, sf + ".ipc", "must be > 0");
            else if (*ipc > 100000) y.add(m["ipc"].second, sf + ".ipc", "must be at most 100000");
            else set.ipc = *ipc;
          }
        }
        if (ds && set.ipc > 0 && !set_keys.insert({set.dataset, set.ipc}).second)
          y.add(sn, sf, "a second set for " + set.dataset + " ipc " + std::to_string(set.ipc) +
                            ": list every seed's file under one entry");
        if (!m.count("files")) {
          y.add(sn, sf + ".files", "missing (required: one .pt file per seed)");
        } else if (!m["files"].second.IsSequence() || m["files"].second.size() == 0) {
          y.add(m["files"].second, sf + ".files", "must be a non-empty list of .pt files (one per seed)");
        } else {
          int fi = 0;
          std::set<std::string> content;
          for (const auto& fn : m["files"].second) {
            const std::string ff = sf + ".files[" + std::to_string(fi++) + "]";
            SubmittedFile f;
            f.line = yaml_line(fn);
            if (!fn.IsScalar() || fn.Scalar().empty()) {
              y.add(fn, ff, "must be a relative path to a .pt file");
              continue;
            }
            f.path = fn.Scalar();
            auto fault = [&](const std::string& why) { faults.add(yaml_name, f.line, ff, f.path + ": " + why); };
            if (has_control_chars(f.path)) {
              fault("path contains control characters");
              continue;
            }
            std::string norm = fs::path(f.path).lexically_normal().string();
            if (!all_paths.insert(norm).second) {
              fault("listed twice in the bundle");
              continue;
            }
            const std::string abs = check_file_path(sub.root, f.path, lim, fault, f.bytes);
            if (abs.empty()) continue;
            f.sha256 = sha256_file(abs);
            const size_t before = faults.lines.size();
            check_tensor_file(abs, f, set, ds, yaml_name, ff, faults);
            if (faults.lines.size() == before && !content.insert(f.content_hash).second)
              fault("the same set as an earlier file of this entry: each seed's set is listed once");
            set.files.push_back(f);
          }
        }
        sub.sets.push_back(std::move(set));
      }
    }
  }
  if (faults.any()) refuse();
  sub.meta = meta;
  std::string manifest = sub.yaml_sha256 + "  submission.yaml\n";
  for (const auto& s : sub.sets)
    for (const auto& f : s.files) manifest += f.sha256 + "  " + f.path + "\n";
  sub.bundle_sha256 = sha256_bytes(manifest);
  return sub;
}

}  // namespace ddb
