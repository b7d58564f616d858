// The sbatch array script of `ddbench slurm` (tools/cli_slurm.cpp): task i of an array of N runs
// `ddbench run SUITES --shard i/N` into its own store DIR/shard-i (one SQLite store per task: a store
// shared over a network file system is unsafe), and `ddbench merge DIR/shard-* --into DIR/merged`
// combines them afterwards. Torch-free: plain text, unit-tested in tests/unit/test_slurm_script.cpp.
#pragma once
#include <string>
#include <vector>

namespace ddb {

struct SlurmArraySpec {
  std::string executable;            // the ddbench binary the tasks run (absolute)
  std::vector<std::string> suites;   // suite files or directories (absolute: tasks may start elsewhere)
  int array = 1;                     // N tasks: --array=0-(N-1), task i runs --shard i/N
  std::string results = "results";   // shard stores go to RESULTS/shard-$SLURM_ARRAY_TASK_ID
  std::string work_dir;              // #SBATCH --chdir (empty: sbatch's own default, the submit directory)
  std::string log_dir;               // #SBATCH --output=LOG_DIR/JOB-%A_%a.out (empty: RESULTS/logs)
  std::string job_name = "ddbench";
  // Resources: an empty value (0 for cpus) leaves the #SBATCH line out.
  std::string partition, gres, time;
  int cpus_per_task = 0;             // also the task's --threads unless threads is set
  int threads = 0;                   // the task's --threads (0: cpus_per_task, else ddbench's default)
  // The run flags every task gets, as `ddbench run` takes them (empty: left out).
  std::string tier, data_root, cache, device;
  std::vector<std::string> extra_run_args;  // appended verbatim (already split), e.g. {"--retry-failed"}
};

// The script text (bash, #SBATCH header then one `exec ddbench run ...`). Throws UserError on an array
// size < 1, no suites, or a value that cannot go on an #SBATCH line (a newline).
std::string slurm_array_script(const SlurmArraySpec& spec);
// The command that combines the tasks' stores once the array is done.
std::string slurm_merge_command(const SlurmArraySpec& spec);
std::string slurm_log_dir(const SlurmArraySpec& spec);
// Single-quoted for bash when the word holds anything but [A-Za-z0-9_./:=@%+,-].
std::string shell_quote(const std::string& word);

}  // namespace ddb
