// The planner: suite cells at a tier -> runnable configurations (or the reason they cannot run)
// -> jobs (configuration x seed). Equal configurations share one set of jobs.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "datasets/registry.h"
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
};

// What one cell will run: a fully resolved configuration and its identity.
struct RunConfig {
  json config;            // {method, options (resolved), dataset, ipc, distill_net, eval}
  std::string hash;       // 16 hex digits of sha256(config.dump())
  int seeds = 1;
  std::string metric;
  std::string label() const;  // "dm ipc=10 fashion-mnist"
};

struct PlannedCell {
  const Suite* suite = nullptr;
  const Cell* cell = nullptr;
  Status status = Status::NotRun;  // NotRun when runnable; otherwise why it cannot run
  std::string reason;
  std::optional<RunConfig> run;
};

struct Job {
  RunConfig run;
  int seed_index = 0;
  uint64_t seed = 0;
  std::string key() const { return run.hash + "/s" + std::to_string(seed_index); }
};

PlannedCell plan_cell(const Suite& suite, const Cell& cell, const PlanEnv& env);
std::vector<PlannedCell> plan_suite(const Suite& suite, const PlanEnv& env);
// Unique jobs of the runnable cells, in cell order.
std::vector<Job> jobs_for(const std::vector<PlannedCell>& cells);

// Replayable seeds: derived from the configuration hash and the seed index, never the clock.
uint64_t derive_seed(const std::string& config_hash, int seed_index, const std::string& purpose = "distill");
std::string short_hash(const std::string& text);
// The hash that names a configuration (job keys, derived seeds): the short hash of the configuration
// without the method options that sit at a neutral default (OptionSpec::neutral_default), so results and
// seeds of existing configurations survive the addition of a modifier.
std::string config_hash(const json& config);

}  // namespace ddb
