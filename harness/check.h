// Band checks: a planned cell + the store's results -> a verdict with the figures behind it.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "harness/plan.h"
#include "harness/store.h"

namespace ddb {

// One operand of a derived cell's value (harness/plan.h Derivation), as read from the store.
struct OperandResult {
  std::string role;         // cell | delta_from | ..., standard test set
  std::string config_hash;  // the run's distill_hash + "." + eval_hash (its jobs: <distill_hash>/s<i>/<eval_hash>)
  std::string metric_row;
  double coef = 1;
  int n = 0, n_expected = 0;
  std::optional<double> mean, std;
};

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
  // A derived cell (auroc_gain, recovery_ratio, ...): the runs it combines, how (`derivation`, one
  // line with each operand's hash, mean and n and how the std was formed), and, when the operands
  // pair up run by run, the combined per-run values behind mean and std (a plain cell: its pooled
  // per-run values).
  std::vector<OperandResult> operands;
  std::string derivation;
  std::vector<double> values;
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

// A derived cell (pc.derived) reads each operand's run and combines them (check.cpp says how its std is formed).
CellResult check_cell(const PlannedCell& pc, const Store& store, const std::string& tier);
// The verdict of a result whose mean is set: pass/above/fail against the band (direction of metric_row's
// metric), xfail/xpass, or unchecked / no-paper-value when there is nothing to compare with.
void band_verdict(CellResult& r, const PlannedCell& pc, const std::string& tier, const std::string& metric_row);
std::vector<CellResult> check_cells(const std::vector<PlannedCell>& cells, const Store& store, const std::string& tier);
std::vector<RelationResult> check_relations(const Suite& suite, const std::vector<CellResult>& results);

// Mean and population std (ddof 0).
std::pair<double, double> mean_std(const std::vector<double>& v);

}  // namespace ddb
