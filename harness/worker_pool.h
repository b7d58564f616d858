// The device pool (`ddbench run --workers N --devices ...`): jobs run concurrently, each in its own
// worker process, so a crash, an out-of-memory kill or a CUDA error fails that job and not the run.
//
//   Slots: one per (device, jobs_per_device) pair, `workers` of them; a CPU slot gets
//   threads_per_worker intra-op threads (the CLI splits the cores).
//   Tasks: the jobs still to run, grouped by distillation (jobs sharing a distillation go to one worker,
//   which distils once), longest first: the measured wall time of the configuration's finished seeds in
//   the store, and tasks never measured before every measured one (their cost is unknown).
//   Workers: this binary, `run SUITES --only-job KEY... --results <work_dir>/task-<n>` (its own store,
//   so the pool has one writer): the worker plans the same suites and runs only its jobs.
//   One writer: when a worker exits, the parent merges its store into the main store (harness/merge.h);
//   a job the worker left unfinished (it died) is recorded failed with the signal or exit code and the
//   path of the worker's log, which is kept; the other jobs go on.
//   Progress: one line per finished job, with the pool's elapsed time and ETA.
// Seeds come from the configuration, so a pool run gives the numbers a sequential run gives.
#pragma once
#include <string>
#include <vector>

#include "harness/plan.h"
#include "harness/runner.h"
#include "harness/store.h"

namespace ddb {

struct PoolOptions {
  std::vector<std::string> slots;      // a device per slot ("cpu", "cuda:0", ...); its size is the worker count
  int threads_per_worker = 1;
  std::string executable;              // the ddbench binary the workers run (this one: /proc/self/exe)
  std::vector<std::string> run_args;   // after the executable: "run", the suites and the flags every worker shares
  std::string work_dir;                // the workers' stores and logs (<results>/.pool)
  bool retry_failed = false;
  bool quiet = false;
};

RunSummary run_pool(const std::vector<Job>& jobs, Store& store, const PoolOptions& opts);

// Why a worker process ended, for the failure record: "exit code 3" or "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace ddb
