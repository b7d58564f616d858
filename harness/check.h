// Band checks: a planned cell + the store's results -> a verdict with the figures behind it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "harness/plan.h"
#include "harness/store.h"

namespace ddb {

struct CellResult {
  const Suite* suite = nullptr;
  const Cell* cell = nullptr;
  std::string tier;
  Status status = Status::NotRun;
  std::string reason;
  std::string config_hash;          // distill_hash + "." + eval_hash
  std::string distill_hash, eval_hash;
  std::string metric_row;           // the stored metric row the cell reads ("auroc:msp@mean")
  int n = 0;                        // pooled values (seeds x eval runs)
  int n_expected = 0;               // values the cell asks for (seeds x eval runs per job)
  int runs_failed = 0;              // evaluation runs that diverged, in jobs that finished
  int jobs_done = 0, jobs_failed = 0, jobs_expected = 0;
  std::optional<double> mean, std;  // ours; std with ddof 0 over the pooled runs, like the papers
  std::optional<double> expected, expected_std;  // paper value (paper tier) or committed reference
  std::string expected_source;      // "paper" | "reference:<tier>"
  std::optional<double> delta;      // ours - expected
  std::optional<double> band;       // half-width
};

struct RelationResult {
  Relation relation;
  const Suite* suite = nullptr;
  bool holds = false;
  bool checked = false;  // both cells have results
  std::string detail;
};

// "n = 2 of 3, 1 diverged" when runs failed or are missing, else "n = 3".
std::string pooled_runs_text(const CellResult& r);

CellResult check_cell(const PlannedCell& pc, const Store& store, const std::string& tier);
std::vector<CellResult> check_cells(const std::vector<PlannedCell>& cells, const Store& store, const std::string& tier);
std::vector<RelationResult> check_relations(const Suite& suite, const std::vector<CellResult>& results);

// Mean and population std (ddof 0).
std::pair<double, double> mean_std(const std::vector<double>& v);

}  // namespace ddb
