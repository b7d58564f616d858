// The result store: SQLite (WAL) under --results. One row per job (configuration x seed) with its
// provenance, one row per (job, eval run, metric). A job's metrics and its 'done' status are
// written in one transaction, so a crash never leaves half a result.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"

struct sqlite3;

namespace ddb {

struct RunRecord {
  std::string job_key;      // config_hash + "/s" + seed index
  std::string config_hash;
  json config;              // the full run configuration
  int seed_index = 0;
  uint64_t seed = 0;
  std::string status;       // running | done | failed
  std::string error;
  json provenance = json::object();  // commit, protocol, torch, device, dataset identity, host ...
  double wall_s = 0;
  std::string synset_path;
  std::string updated_at;
};

struct MetricRow {
  int eval_run = 0;
  std::string metric;
  double value = 0;
};

// An evaluation run that produced no value (its training diverged): recorded, never dropped, so a
// cell's mean says how many runs it pools and how many failed.
struct EvalFailure {
  int eval_run = 0;
  std::string error;
  int seed_index = 0;  // filled when read back from the store
};

class Store {
 public:
  explicit Store(const std::string& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::optional<RunRecord> find(const std::string& job_key) const;
  void mark_running(const RunRecord& r);
  // Marks the job done with its metrics and its failed evaluation runs, in one transaction.
  void finish(const RunRecord& r, const std::vector<MetricRow>& metrics, const std::vector<EvalFailure>& failures = {});
  void fail(const RunRecord& r);
  // Values of `metric` over every eval run of the done jobs of the configuration whose seed index is
  // below `seeds` (a store may hold more seeds of a configuration, run for another suite).
  std::vector<double> metric_values(const std::string& config_hash, const std::string& metric, int seeds) const;
  // Failed evaluation runs of the done jobs of the configuration with seed index below `seeds`.
  std::vector<EvalFailure> eval_failures(const std::string& config_hash, int seeds) const;
  std::vector<RunRecord> runs_of(const std::string& config_hash) const;
  std::vector<RunRecord> all_runs() const;
  std::vector<MetricRow> metrics_of(const std::string& job_key) const;
  const std::string& dir() const { return dir_; }

 private:
  void exec(const std::string& sql);
  std::string dir_;
  sqlite3* db_ = nullptr;
};

}  // namespace ddb
