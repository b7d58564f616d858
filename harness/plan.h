// The planner: suite cells at a tier -> runnable configurations (or the reason they cannot run)
// -> jobs (configuration x seed). Equal configurations share one set of jobs.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/hashing.h"  // derive_seed, short_hash
#include "core/planned.h"
#include "datasets/spec.h"  // LoadOptions
#include "harness/status.h"
#include "harness/suite.h"

namespace ddb {

struct PlanEnv {
  std::string tier = "cpu";
  bool cuda_available = false;
  bool allow_paper_on_cpu = false;  // run paper-tier cells without a GPU (slow; explicit opt-in)
  LoadOptions data;
  // Plan as if every dataset were on disk (coverage: what would run once the data is fetched).
  bool assume_datasets_present = false;
  // The planned names the cells are checked against; null: the repository's planned/*.yaml (tests give
  // their own, e.g. a planned option value once none is left in the repository).
  const PlannedNames* planned = nullptr;
};

// What one cell will run: a fully resolved configuration and its two-level identity. The
// distillation (method, options, dataset, IPC, distillation net) and its evaluation (the eval block,
// or the set metric measured instead) are keyed apart, so one synthetic set serves every protocol
// and metric that evaluates it, and changing evaluation settings never re-distills.
struct RunConfig {
  json config;               // {method, options (resolved), dataset, ipc, distill_net, eval[, metric]}
  std::string distill_hash;  // config_hash(distillation()): names the synthetic sets, seeds them
  std::string eval_hash;     // short hash of evaluation()
  std::string hash;          // distill_hash + "." + eval_hash: the whole configuration, as reports show it
  int seeds = 1;
  std::string metric = "accuracy";
  std::string label() const;  // "dm ipc=10 fashion-mnist"
  json distillation() const;  // {method, options, dataset, ipc, distill_net}
  json evaluation() const;    // the rest: {eval} or {metric} for a set metric
};

// A cell's eval block as the evaluation sees it (trustdd: eval.ood defaults to the cell's `ood`).
json eval_block(const json& spec);
// The stored metric row a cell reads: its `metric`, or for an OOD metric of trustdd
// "<metric>:<score>@<set>" (one set) / "<metric>:<score>@mean" (all of eval.ood). UserError when the
// cell's sets are not what eval.ood scores.
struct EvalSpec;
std::string metric_row(const json& spec, const EvalSpec& es);

// A RunConfig with its hashes computed from `config`.
RunConfig identify(json config, int seeds = 1, std::string metric = "accuracy");

// A derived metric's operand (harness/metrics.h DerivedMetric): one run and the metric row read from it.
struct Operand {
  std::string role;  // "cell" (the cell's own run) or "delta_from" (the cell with delta_from merged over it)
  RunConfig run;     // run.metric: the stored row read ("auroc:msp@mean", "worst_group_accuracy@rdd-kmeans10")
  double coef = 1;   // difference: the value is sum(coef * operand); ratio: 100 * operands[0] / operands[1]
};
struct Derivation {
  std::string metric;  // the cell's metric ("auroc_gain")
  std::string rule;    // difference | ratio
  std::vector<Operand> operands;
};

// The spec of a derived cell's second run: `delta` merged over `spec` (maps key by key), except that
// a delta naming another method replaces the options (they belong to the method): the delta's
// options, or none. `delta_from` itself is dropped.
json apply_delta_from(const json& spec, const json& delta);

// A planned cell. Validity comes first (invalid: a name neither registered nor planned, a mistyped
// option), then what the code implements (unimplemented), and only then what this machine can run
// (needs-gpu, dataset-missing, ...). `run` is set whenever the code can run the cell at the tier,
// whatever this machine has: reading results (check, report) depends on the store, not on the
// reader's machine; only `run` and ctest execute what runnable() allows.
struct PlannedCell {
  const Suite* suite = nullptr;
  const Cell* cell = nullptr;
  Status status = Status::NotRun;  // NotRun when runnable here; otherwise why not
  std::string reason;
  std::optional<RunConfig> run;  // a derived cell: the cell's own run (derived->operands[0].run)
  // Set for a derived metric (auroc_gain, accuracy_gain, recovery_ratio, ...): the runs it combines.
  // The cell is runnable when every operand is; its status and reason are the first blocked operand's.
  std::optional<Derivation> derived;
  bool runnable() const { return run.has_value() && status == Status::NotRun; }
};

// One seed of a configuration: a distillation (shared by every configuration with the same
// distillation part) and its evaluation.
struct Job {
  RunConfig run;
  int seed_index = 0;
  uint64_t seed = 0;  // the distillation's seed: derive_seed(distill_hash, seed_index), nothing else
  std::string distill_key() const { return run.distill_hash + "/s" + std::to_string(seed_index); }
  std::string key() const { return distill_key() + "/" + run.eval_hash; }  // the evaluation's key
};
Job make_job(const RunConfig& run, int seed_index);
// Test-only (the nightly report's false-positive test, tests/regress): $DDBENCH_TEST_SEED_SALT, when set and
// non-empty, is mixed into every job's distillation seed and evaluation seeds, so the same configuration (same
// keys, same cells) runs on new seeds. Never set it for results that are kept; the runner records it in
// each result's provenance. Empty when unset.
std::string test_seed_salt();

PlannedCell plan_cell(const Suite& suite, const Cell& cell, const PlanEnv& env);
std::vector<PlannedCell> plan_suite(const Suite& suite, const PlanEnv& env);
// Unique jobs of the cells runnable here, in cell order (a derived cell's: those of its operands).
std::vector<Job> jobs_for(const std::vector<PlannedCell>& cells);

// The hash that names a distillation (its keys and seeds): the short hash of the distillation part
// without the method options that sit at a neutral default (OptionSpec::neutral_default), so results and
// seeds of existing configurations survive the addition of a modifier.
std::string config_hash(const json& config);

}  // namespace ddb
