// ddbench: torch-free
#include "harness/merge.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "core/errors.h"
#include "core/json.h"
#include "harness/store.h"

namespace ddb {

namespace fs = std::filesystem;

namespace {

int status_rank(const std::string& status) {
  if (status == "done") return 2;
  if (status == "failed") return 1;
  return 0;  // running (a task that died mid-job), or anything unknown
}

struct DistEntry {
  DistillRecord rec;
  std::string origin;  // the store it comes from
  bool write = false;  // to be written into the target
};

struct EvalEntry {
  EvalRecord rec;
  std::vector<MetricRow> metrics;
  std::vector<EvalFailure> failures;
  std::string origin;
  bool write = false;
};

std::string num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// The first difference between two done evaluations' results, or "" when they are the same result.
std::string result_difference(const EvalEntry& a, const EvalEntry& b) {
  std::map<std::pair<int, std::string>, double> va, vb;
  for (const auto& m : a.metrics) va[{m.eval_run, m.metric}] = m.value;
  for (const auto& m : b.metrics) vb[{m.eval_run, m.metric}] = m.value;
  for (const auto& [k, v] : va) {
    const auto it = vb.find(k);
    const std::string what = k.second + " (eval run " + std::to_string(k.first) + ")";
    if (it == vb.end()) return what + " = " + num(v) + " in " + a.origin + ", absent in " + b.origin;
    if (it->second != v) return what + " = " + num(v) + " in " + a.origin + " but " + num(it->second) + " in " + b.origin;
  }
  for (const auto& [k, v] : vb)
    if (!va.count(k))
      return k.second + " (eval run " + std::to_string(k.first) + ") = " + num(v) + " in " + b.origin + ", absent in " +
             a.origin;
  std::vector<int> fa, fb;
  for (const auto& f : a.failures) fa.push_back(f.eval_run);
  for (const auto& f : b.failures) fb.push_back(f.eval_run);
  if (fa != fb)
    return "diverged runs differ (" + std::to_string(fa.size()) + " in " + a.origin + ", " + std::to_string(fb.size()) +
           " in " + b.origin + ")";
  return "";
}

// Where a distillation's set file is in its source store: the runner writes <store>/synsets/<hash>/<file>
// (with the store directory as the run named it, possibly relative to another working directory), so the
// store's own layout comes first, the recorded path second.
std::optional<fs::path> source_synset(const DistillRecord& d, const std::string& store_dir) {
  if (d.synset_path.empty()) return std::nullopt;
  const fs::path name = fs::path(d.synset_path).filename();
  const fs::path in_store = fs::path(store_dir) / "synsets" / d.distill_hash / name;
  if (fs::exists(in_store)) return in_store;
  if (fs::exists(d.synset_path)) return fs::path(d.synset_path);
  return std::nullopt;
}

void copy_atomic(const fs::path& from, const fs::path& to) {
  const fs::path tmp = to.string() + ".merge-tmp";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

// Copies the set file and its siblings (FILE.json, FILE-stem.it<N>.pt[.json]) into dest_dir; rewrites the
// sidecars' snapshot paths to the copies. Returns the number of files copied.
int copy_synset_files(const fs::path& source_file, const fs::path& dest_dir) {
  fs::create_directories(dest_dir);
  const std::string prefix = source_file.stem().string() + ".";
  const std::string file_name = source_file.filename().string();
  int copied = 0;
  for (const auto& entry : fs::directory_iterator(source_file.parent_path())) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name != file_name && name.rfind(prefix, 0) != 0) continue;
    if (name.size() > 10 && name.compare(name.size() - 10, 10, ".merge-tmp") == 0) continue;
    const fs::path dest = dest_dir / name;
    const bool sidecar = name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0;
    if (!sidecar) {
      copy_atomic(entry.path(), dest);
      ++copied;
      continue;
    }
    std::ifstream in(entry.path());
    json meta = json::parse(in, nullptr, false);
    if (meta.is_object() && meta.contains("snapshots") && meta["snapshots"].is_array()) {
      for (auto& p : meta["snapshots"])
        if (p.is_object() && p.contains("path") && p["path"].is_string())
          p["path"] = (dest_dir / fs::path(p["path"].get<std::string>()).filename()).string();
      const fs::path tmp = dest.string() + ".merge-tmp";
      std::ofstream(tmp) << meta.dump(2) << "\n";
      fs::rename(tmp, dest);
    } else {
      copy_atomic(entry.path(), dest);
    }
    ++copied;
  }
  return copied;
}

bool same_directory(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a) && fs::exists(b) && fs::equivalent(a, b, ec)) return true;
  return fs::weakly_canonical(a) == fs::weakly_canonical(b);
}

}  // namespace

MergeSummary merge_stores(const std::vector<std::string>& sources, const std::string& into) {
  if (sources.empty()) throw UserError("merge: no source stores given");
  for (const auto& s : sources) {
    if (!fs::exists(fs::path(s) / "results.sqlite"))
      throw UserError("merge: no result store in '" + s + "' (no results.sqlite)");
    if (fs::exists(into) && same_directory(s, into))
      throw UserError("merge: source '" + s + "' is the target store '" + into + "'");
  }
  MergeSummary sum;
  sum.sources = static_cast<int>(sources.size());
  Store target(into);
  std::map<std::string, DistEntry> dists;
  std::map<std::string, EvalEntry> evals;
  for (auto& d : target.all_distillations()) dists[d.key] = {d, into, false};
  for (auto& e : target.all_evaluations()) {
    EvalEntry entry{e, target.metrics_of(e.key), target.failures_of(e.key), into, false};
    evals[e.key] = std::move(entry);
  }
  std::vector<std::string> conflicts;
  for (const auto& source : sources) {
    const Store src(source);
    for (auto& d : src.all_distillations()) {
      auto it = dists.find(d.key);
      if (it == dists.end()) {
        dists[d.key] = {d, source, true};
        continue;
      }
      const int have = status_rank(it->second.rec.status), got = status_rank(d.status);
      if (got > have) {
        if (it->second.origin == into) ++sum.replaced;
        it->second = {d, source, true};
      } else if (got == have) {
        ++sum.identical_skipped;  // the same distillation (its seed comes from its key); the first copy stays
      } else {
        ++sum.superseded_skipped;
      }
    }
    for (auto& e : src.all_evaluations()) {
      EvalEntry entry{e, src.metrics_of(e.key), src.failures_of(e.key), source, true};
      auto it = evals.find(e.key);
      if (it == evals.end()) {
        evals[e.key] = std::move(entry);
        continue;
      }
      const int have = status_rank(it->second.rec.status), got = status_rank(e.status);
      if (have == 2 && got == 2) {
        const std::string diff = result_difference(it->second, entry);
        if (diff.empty())
          ++sum.identical_skipped;
        else
          conflicts.push_back("evaluation " + e.key + ": " + diff);
      } else if (got > have) {
        if (it->second.origin == into) ++sum.replaced;
        it->second = std::move(entry);
      } else if (got == have) {
        ++sum.identical_skipped;
      } else {
        ++sum.superseded_skipped;
      }
    }
  }
  if (!conflicts.empty()) {
    std::string msg = "merge: " + std::to_string(conflicts.size()) + " conflicting result" +
                      (conflicts.size() == 1 ? "" : "s") + " (the same key with different values); nothing was merged into " +
                      into + ":";
    for (size_t i = 0; i < conflicts.size() && i < 10; ++i) msg += "\n  " + conflicts[i];
    if (conflicts.size() > 10) msg += "\n  ... and " + std::to_string(conflicts.size() - 10) + " more";
    throw UserError(msg);
  }
  // Files first, then every record in one transaction.
  for (auto& [key, d] : dists) {
    if (!d.write) continue;
    d.rec.provenance["merged_from"] = d.origin;
    if (d.rec.synset_path.empty()) continue;
    const fs::path dest_dir = fs::path(into) / "synsets" / d.rec.distill_hash;
    const fs::path dest = dest_dir / fs::path(d.rec.synset_path).filename();
    if (d.rec.status == "done") {
      if (const auto file = source_synset(d.rec, d.origin))
        sum.files_copied += copy_synset_files(*file, dest_dir);
      else
        sum.warnings.push_back("distillation " + key + " from " + d.origin + ": its synthetic set " + d.rec.synset_path +
                               " is not there; the record is merged, and a run that needs the set distils it again");
    }
    d.rec.synset_path = dest.string();
  }
  target.transaction([&] {
    for (auto& [key, d] : dists)
      if (d.write) {
        target.put_distillation(d.rec);
        ++sum.distillations_written;
      }
    for (auto& [key, e] : evals)
      if (e.write) {
        e.rec.provenance["merged_from"] = e.origin;
        target.put_evaluation(e.rec, e.metrics, e.failures);
        ++sum.evaluations_written;
      }
  });
  return sum;
}

}  // namespace ddb
