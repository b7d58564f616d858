// ddbench: torch-free
#include "harness/slurm_script.h"

#include <sstream>

#include "core/errors.h"

namespace ddb {

namespace {

// A value on an #SBATCH line: sbatch splits those lines at whitespace and honours double quotes.
std::string sbatch_value(const std::string& what, const std::string& v) {
  if (v.find_first_of("\n\r") != std::string::npos) throw UserError(what + ": a newline cannot go on an #SBATCH line");
  if (v.find_first_of(" \t") == std::string::npos) return v;
  if (v.find('"') != std::string::npos) throw UserError(what + " '" + v + "': spaces and quotes together cannot go on an #SBATCH line");
  return "\"" + v + "\"";
}

}  // namespace

std::string shell_quote(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-") ==
                        std::string::npos)
    return w;
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurm_log_dir(const SlurmArraySpec& s) {
  return s.log_dir.empty() ? (s.results.empty() || s.results.back() == '/' ? s.results : s.results + "/") + "logs"
                           : s.log_dir;
}

std::string slurm_merge_command(const SlurmArraySpec& s) {
  const std::string dir = shell_quote(s.results);
  return shell_quote(s.executable.empty() ? "ddbench" : s.executable) + " merge " + dir + "/shard-* --into " + dir +
         "/merged";
}

std::string slurm_array_script(const SlurmArraySpec& s) {
  if (s.array < 1) throw UserError("--array must be at least 1, got " + std::to_string(s.array));
  if (s.suites.empty()) throw UserError("ddbench slurm: no suites");
  if (s.results.empty()) throw UserError("--results must name a directory");
  if (s.cpus_per_task < 0) throw UserError("--cpus-per-task must be positive");
  const std::string n = std::to_string(s.array);
  std::ostringstream o;
  o << "#!/bin/bash\n"
    << "# Written by `ddbench slurm`: a Slurm array of " << n << " task" << (s.array == 1 ? "" : "s")
    << "; task i runs shard i/" << n << " of the suites\n"
    << "# into its own store " << s.results << "/shard-i (one SQLite store per task: sharing one over a network\n"
    << "# file system is unsafe). Submit: sbatch THIS_FILE. When every task is done, combine the stores:\n"
    << "#   " << slurm_merge_command(s) << "\n";
  o << "#SBATCH --job-name=" << sbatch_value("job name", s.job_name) << "\n";
  o << "#SBATCH --array=0-" << s.array - 1 << "\n";
  o << "#SBATCH --output=" << sbatch_value("log directory", slurm_log_dir(s) + "/%x-%A_%a.out") << "\n";
  if (!s.work_dir.empty()) o << "#SBATCH --chdir=" << sbatch_value("working directory", s.work_dir) << "\n";
  if (!s.partition.empty()) o << "#SBATCH --partition=" << sbatch_value("--partition", s.partition) << "\n";
  if (!s.gres.empty()) o << "#SBATCH --gres=" << sbatch_value("--gres", s.gres) << "\n";
  if (!s.time.empty()) o << "#SBATCH --time=" << sbatch_value("--time", s.time) << "\n";
  if (s.cpus_per_task > 0) o << "#SBATCH --cpus-per-task=" << s.cpus_per_task << "\n";
  o << "set -euo pipefail\n";
  o << "exec " << shell_quote(s.executable.empty() ? "ddbench" : s.executable) << " run";
  for (const auto& suite : s.suites) o << " " << shell_quote(suite);
  o << " \\\n  --shard \"${SLURM_ARRAY_TASK_ID}/" << n << "\" --results " << shell_quote(s.results)
    << "/shard-\"${SLURM_ARRAY_TASK_ID}\" --no-report";
  std::vector<std::pair<std::string, std::string>> flags;
  if (!s.tier.empty()) flags.emplace_back("--tier", s.tier);
  if (!s.data_root.empty()) flags.emplace_back("--data-root", s.data_root);
  if (!s.cache.empty()) flags.emplace_back("--cache", s.cache);
  if (!s.device.empty()) flags.emplace_back("--device", s.device);
  if (s.threads > 0 || s.cpus_per_task > 0)
    flags.emplace_back("--threads", std::to_string(s.threads > 0 ? s.threads : s.cpus_per_task));
  if (!flags.empty() || !s.extra_run_args.empty()) o << " \\\n ";
  for (const auto& [k, v] : flags) o << " " << k << " " << shell_quote(v);
  for (const auto& a : s.extra_run_args) o << " " << shell_quote(a);
  o << "\n";
  return o.str();
}

}  // namespace ddb
