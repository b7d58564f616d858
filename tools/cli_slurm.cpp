// `ddbench slurm`: write (and with --submit, submit) an sbatch array script whose task i runs shard i/N
// of the suites into its own store (harness/slurm_script.h); `ddbench merge` combines the stores after.
#include "cli_common.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "harness/runner.h"
#include "harness/slurm_script.h"

namespace ddb::cli {

namespace fs = std::filesystem;

namespace {

// The first executable `name` on $PATH, or "" when there is none.
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const fs::path p = fs::path(d.empty() ? "." : d) / name;
    if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return p.string();
  }
  return "";
}

std::string absolute(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

}  // namespace

void register_slurm_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "slurm",
      "Write an sbatch array script for suites: task i of --array N runs `ddbench run SUITES --shard i/N` into its\n"
      "own store RESULTS/shard-i (with this command's --tier, --data-root, --cache, --device, --threads), logs go to\n"
      "RESULTS/logs. --submit hands it to sbatch. When the array is done, combine the stores with\n"
      "`ddbench merge RESULTS/shard-* --into RESULTS/merged` (printed here) and report from the merged store");
  static Common o;
  static std::vector<std::string> suites;
  static SlurmArraySpec spec;
  static std::string out, cache_dir = default_cache_dir();
  static bool submit = false;
  c->add_option("suites", suites, "suite files or directories")->required();
  add_common(c, o, true);
  c->add_option("--array", spec.array, "number of array tasks (shards)")->required();
  c->add_option("--partition", spec.partition, "#SBATCH --partition");
  c->add_option("--gres", spec.gres, "#SBATCH --gres, e.g. gpu:1");
  c->add_option("--time", spec.time, "#SBATCH --time (per task), e.g. 4:00:00");
  c->add_option("--cpus-per-task", spec.cpus_per_task, "#SBATCH --cpus-per-task; also each task's --threads")->check(at_least(1));
  c->add_option("--job-name", spec.job_name, "#SBATCH --job-name (default: ddbench-<suite name>)");
  c->add_option("--cache", cache_dir, "the tasks' --cache (expert trajectories; share it between tasks)")
      ->capture_default_str();
  c->add_option("--out", out, "where the script goes ('-': standard output; default RESULTS/ddbench-slurm.sh)");
  c->add_flag("--submit", submit, "submit the script with sbatch and print the array's job id");
  c->callback(guarded([] {
    // What the tasks will plan, checked here first: a mistyped suite fails now, not in N queued tasks.
    const PlanEnv env = make_env(o);
    const Loaded l = load_and_plan(suites, env);
    const size_t jobs = jobs_for(l.cells).size();
    size_t runnable = 0;
    for (const auto& pc : l.cells) runnable += pc.runnable() ? 1 : 0;
    if (spec.array < 1) throw UserError("--array must be at least 1, got " + std::to_string(spec.array));

    spec.executable = fs::read_symlink("/proc/self/exe").string();
    spec.suites.clear();
    for (const auto& s : suites) spec.suites.push_back(absolute(s));
    spec.results = absolute(o.results);
    spec.work_dir = fs::current_path().string();
    spec.tier = o.tier;
    spec.data_root = absolute(o.data_root);
    spec.cache = absolute(cache_dir);
    spec.device = o.device == "auto" ? "" : o.device;
    spec.threads = o.threads;
    spec.extra_run_args.clear();
    if (o.allow_cpu) spec.extra_run_args.push_back("--allow-cpu");
    if (spec.job_name == "ddbench") spec.job_name = "ddbench-" + report_name_for(suites);
    const std::string script = slurm_array_script(spec);

    // Slurm does not create the --output directory: a task whose log directory is missing fails at once.
    fs::create_directories(slurm_log_dir(spec));
    if (out.empty()) out = spec.results + "/ddbench-slurm.sh";
    if (out == "-") {
      if (submit) throw UserError("--submit needs a script file: drop --out - or name a file");
      std::cout << script;
    } else {
      out = absolute(out);
      if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
      std::ofstream f(out);
      if (!(f << script)) throw UserError("cannot write " + out);
      f.close();
      fs::permissions(out, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
    }
    std::ostream& info = out == "-" ? std::cerr : std::cout;
    info << "ddbench slurm: " << (out == "-" ? std::string("script") : "wrote " + out) << ": array of " << spec.array
         << " task" << (spec.array == 1 ? "" : "s") << " over " << jobs << " jobs (" << runnable << " of "
         << l.cells.size() << " cells runnable here at tier " << env.tier << "; each task plans on its node), stores "
         << spec.results << "/shard-{0.." << spec.array - 1 << "}, logs " << slurm_log_dir(spec) << "\n";
    if (runnable == l.cells.size() && jobs < static_cast<size_t>(spec.array))
      info << "ddbench slurm: warning: " << spec.array - jobs << " tasks will have no job (only " << jobs << " jobs)\n";
    if (!submit) info << "  submit: sbatch " << out << "\n";

    if (submit) {
      const std::string sbatch = find_on_path("sbatch");
      if (sbatch.empty())
        throw UserError("--submit: sbatch is not on PATH (Slurm's client tools are not installed here); the script is " +
                        out + ": submit it with `sbatch " + out + "` where Slurm is available");
      const std::string cmd = shell_quote(sbatch) + " --parsable " + shell_quote(out) + " 2>&1";
      FILE* p = popen(cmd.c_str(), "r");
      if (!p) throw UserError("--submit: cannot run " + sbatch);
      std::string reply;
      std::array<char, 512> buf{};
      while (fgets(buf.data(), buf.size(), p)) reply += buf.data();
      const int st = pclose(p);
      while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
      const std::string id = reply.substr(0, reply.find(';'));  // --parsable: "JOBID" or "JOBID;CLUSTER"
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || id.empty() ||
          id.find_first_not_of("0123456789") != std::string::npos)
        throw UserError("--submit: sbatch " + out + " failed (exit " +
                        std::to_string(WIFEXITED(st) ? WEXITSTATUS(st) : -1) + "): " + reply);
      std::cout << "ddbench slurm: submitted array job " << id << " (" << spec.array << " tasks); watch: squeue -j "
                << id << "\n";
    }
    info << "  when every task is done: " << slurm_merge_command(spec) << "\n"
         << "  then: " << shell_quote(spec.executable) << " report";
    for (const auto& s : spec.suites) info << " " << shell_quote(s);
    info << " --results " << shell_quote(spec.results) << "/merged\n";
  }));
}

}  // namespace ddb::cli
