// The runner: executes jobs in two steps, each recorded in the store: the distillation (distill ->
// save the set), skipped when the store already holds that set, and its evaluation (decode -> eval
// runs or a set metric). It resumes by skipping completed evaluations and never lets one failing job
// stop the rest.
#pragma once
#include <string>
#include <vector>

#include "datasets/registry.h"
#include "harness/plan.h"
#include "harness/progress.h"
#include "harness/store.h"

namespace ddb {

// $DDBENCH_CACHE, else ./cache.
std::string default_cache_dir();

struct RunnerOptions {
  torch::Device device = torch::kCPU;
  LoadOptions data;
  bool retry_failed = false;
  int shard_index = 0, shard_count = 1;  // run jobs with index % count == index (Slurm arrays)
  bool quiet = false;
  std::string cache_dir = default_cache_dir();  // expert trajectories and other reusable artefacts
  // Train a job's evaluation runs as one stacked model where the protocol and net allow
  // (stacked_runs_unsupported in harness/eval_protocol.h); recorded as provenance.eval_runs.
  bool stack_runs = false;
};

// --stack-runs: "on", "off" or "auto" (on where measured faster: GPUs; off on the CPU, where the
// grouped convolutions are slower: `ddbench bench --stack-runs`). Other values: UserError.
bool resolve_stack_runs(const std::string& mode, torch::Device device);

struct RunSummary {
  int planned = 0, skipped_done = 0, skipped_failed = 0, ran = 0, succeeded = 0, failed = 0;
  double seconds = 0;
};

RunSummary run_jobs(const std::vector<Job>& jobs, Store& store, const RunnerOptions& opts);

// The two steps of a job, without the store. `data` is the loaded dataset (whitened here when the
// method asks for ZCA and it is not already). distill_job saves the set to synset_path when non-empty.
SyntheticSet distill_job(const Job& job, const LoadedDataset& data, const RunnerOptions& opts, const ProgressFn& progress,
                         const std::string& synset_path);
struct EvalOutput {
  std::vector<MetricRow> metrics;
  std::vector<EvalFailure> failures;  // evaluation runs that diverged (the others still count)
  json detail;                        // how the values were selected (best_iter: every point's mean)
  bool stacked = false;               // the runs were trained as one stacked model
};
// The evaluation points a job's distillation must save ({eval_every, eval_from}), or null.
json snapshot_spec(const Job& job);
// FILE.pt -> FILE.it<N>.pt: where the set after N updates is saved.
std::string snapshot_path(const std::string& synset_path, int64_t updates);
EvalOutput evaluate_job(const Job& job, const SyntheticSet& set, const LoadedDataset& data, const RunnerOptions& opts,
                        const ProgressFn& progress);

// Both steps (ddbench distill with runs 0, tests).
struct JobOutput {
  SyntheticSet set;
  std::vector<MetricRow> metrics;
  std::vector<EvalFailure> failures;
};
JobOutput execute_job(const Job& job, const LoadedDataset& data, const RunnerOptions& opts, const ProgressFn& progress,
                      const std::string& synset_path);

std::string device_name(torch::Device d);

}  // namespace ddb
