// The result store: SQLite (WAL) under --results, schema 2. Two levels, as a run is two steps:
//   distillations  one row per (distillation configuration, seed index): the synthetic set's file, its
//                  seed and provenance;
//   evaluations    one row per (distillation, evaluation configuration): its status and provenance,
//                  with its metric values (metrics) and diverged runs (eval_failures) keyed by it.
// An evaluation's metrics and its 'done' status are written in one transaction, so a crash never
// leaves half a result. A store of an older schema is refused with the fix, never misread.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/json.h"

struct sqlite3;

namespace ddb {

constexpr int kStoreSchema = 2;

struct DistillRecord {
  std::string key;           // distill_hash + "/s" + seed index
  std::string distill_hash;
  json config;               // the distillation part of the configuration
  int seed_index = 0;
  uint64_t seed = 0;
  std::string status;        // running | done | failed
  std::string error;
  json provenance = json::object();  // commit, torch, device, dataset identity and copy, host ...
  double wall_s = 0;
  std::string synset_path;
  std::string updated_at;
};

struct EvalRecord {
  std::string key;           // distillation key + "/" + eval_hash
  std::string distill_key;
  std::string distill_hash, eval_hash;
  json config;               // the full configuration (distillation and evaluation parts)
  int seed_index = 0;
  std::string status;        // running | done | failed (a failed distillation fails its evaluations)
  std::string error;
  json provenance = json::object();  // protocol and version, commit, device, ...
  double wall_s = 0;
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
  // Opens or creates DIR/results.sqlite. A store of another schema: UserError naming the fix.
  explicit Store(const std::string& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Distillations.
  std::optional<DistillRecord> find_distillation(const std::string& key) const;
  void mark_distillation_running(const DistillRecord& r);
  void finish_distillation(const DistillRecord& r);
  void fail_distillation(const DistillRecord& r);
  std::vector<DistillRecord> all_distillations() const;

  // Evaluations.
  std::optional<EvalRecord> find(const std::string& eval_key) const;
  void mark_running(const EvalRecord& r);
  // Marks the evaluation done with its metrics and its failed runs, in one transaction.
  void finish(const EvalRecord& r, const std::vector<MetricRow>& metrics, const std::vector<EvalFailure>& failures = {});
  void fail(const EvalRecord& r);
  // Values of `metric` over every run of the done evaluations of a configuration whose seed index is
  // below `seeds` (a store may hold more seeds of a configuration, run for another suite).
  std::vector<double> metric_values(const std::string& distill_hash, const std::string& eval_hash,
                                    const std::string& metric, int seeds) const;
  // Failed runs of the done evaluations of a configuration with seed index below `seeds`.
  std::vector<EvalFailure> eval_failures(const std::string& distill_hash, const std::string& eval_hash, int seeds) const;
  std::vector<EvalRecord> evaluations_of(const std::string& distill_hash, const std::string& eval_hash) const;
  std::vector<EvalRecord> all_evaluations() const;
  std::vector<MetricRow> metrics_of(const std::string& eval_key) const;
  // The diverged runs of one evaluation, whatever its status (seed_index left 0).
  std::vector<EvalFailure> failures_of(const std::string& eval_key) const;

  // Copying records between stores (ddbench merge, harness/merge.h). put_* write a record as it is: its
  // own status, provenance and updated_at (now when empty), an evaluation with exactly the given metric
  // and failure rows. They open no transaction: call them inside transaction(), which runs `body` in one
  // BEGIN IMMEDIATE ... COMMIT and rolls all of it back when `body` throws.
  void transaction(const std::function<void()>& body);
  void put_distillation(const DistillRecord& r);
  void put_evaluation(const EvalRecord& r, const std::vector<MetricRow>& metrics, const std::vector<EvalFailure>& failures);
  const std::string& dir() const { return dir_; }

 private:
  void exec(const std::string& sql);
  void check_schema(const std::string& path);
  std::string dir_;
  sqlite3* db_ = nullptr;
};

}  // namespace ddb
