// `ddbench run` and `ddbench ctest-suite`: plan jobs, distill, evaluate, store, check, report.
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "harness/runner.h"
#include "harness/runtime.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_run_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("run", "Run suites: plan jobs (cells x seeds), distill, evaluate, store, check, report");
    static Common o;
    static std::vector<std::string> suites;
    static std::string report_dir = "reports", shard = "0/1", cache_dir = default_cache_dir();
    static bool retry_failed = false, no_report = false, quiet = false;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, true);
    c->add_flag("--retry-failed", retry_failed, "rerun jobs recorded as failed (completed jobs are always skipped)");
    c->add_option("--report-dir", report_dir, "where the Markdown/CSV leaderboard goes")->capture_default_str();
    c->add_flag("--no-report", no_report, "do not write reports");
    c->add_option("--shard", shard, "i/n: run only every n-th job starting at i (Slurm array tasks)")->capture_default_str();
    c->add_flag("-q,--quiet", quiet, "no progress lines");
    c->add_option("--cache", cache_dir, "reusable artefacts such as expert trajectories (default $DDBENCH_CACHE, else ./cache)")
        ->capture_default_str();
    c->callback(guarded([] {
      init_runtime(o.threads);
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan(suites, env);
      const auto jobs = jobs_for(l.cells);
      int runnable = 0;
      for (const auto& pc : l.cells) runnable += pc.runnable() ? 1 : 0;
      RunnerOptions ro;
      ro.device = resolve_device(o.device);
      ro.data = env.data;
      ro.retry_failed = retry_failed;
      ro.quiet = quiet;
      ro.cache_dir = cache_dir;
      if (std::sscanf(shard.c_str(), "%d/%d", &ro.shard_index, &ro.shard_count) != 2 || ro.shard_count < 1 ||
          ro.shard_index < 0 || ro.shard_index >= ro.shard_count)
        throw UserError("--shard must be i/n with 0 <= i < n, got '" + shard + "'");
      std::cerr << "ddbench run: tier " << env.tier << ", device " << device_name(ro.device) << ", threads "
                << torch::get_num_threads() << ", " << l.cells.size() << " cells (" << runnable << " runnable here), "
                << jobs.size() << " jobs, store " << o.results << "\n";
      std::set<std::string> datasets;  // which copy of each dataset the jobs read (also stored per job)
      for (const auto& j : jobs) datasets.insert(j.run.config.at("dataset").get<std::string>());
      for (const auto& d : datasets) std::cerr << "ddbench run: dataset " << d << ": " << dataset_location(d, env.data) << "\n";
      Store store(o.results);
      const RunSummary s = run_jobs(jobs, store, ro);
      std::cerr << "ddbench run: " << s.succeeded << " jobs done, " << s.failed << " failed, " << s.skipped_done
                << " already done, " << s.skipped_failed << " failed earlier, in " << static_cast<int>(s.seconds) << " s\n";
      const ReportInput in = make_report(l, store, env.tier, "ddbench leaderboard: " + report_name_for(suites));
      const bool failed = print_verdicts(in);
      if (!no_report) write_reports(in, report_dir, report_name_for(suites));
      set_exit_code((failed || s.failed > 0) ? 1 : 0);
    }));
  }
  {
    auto* c = app.add_subcommand("ctest-suite", "Run + check one suite for ctest: exit 1 when a cell is invalid, 77 (skipped) when nothing runs here; results go to\n<results>/<git commit>, so a new commit recomputes every number and a rerun resumes");
    static Common o;
    static std::string suite;
    c->add_option("suite", suite, "suite file")->required();
    add_common(c, o, true);
    c->callback(guarded([] {
      init_runtime(o.threads);
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan({suite}, env);
      int runnable = 0;
      std::vector<const PlannedCell*> invalid;
      for (const auto& pc : l.cells) {
        runnable += pc.runnable() ? 1 : 0;
        if (pc.status == Status::Invalid) invalid.push_back(&pc);
      }
      // An invalid cell is a failure of the suite itself, on every machine: never skipped.
      if (!invalid.empty()) {
        std::cout << "FAILED: " << invalid.size() << " invalid cell" << (invalid.size() == 1 ? "" : "s") << " in "
                  << suite << "\n";
        for (const PlannedCell* pc : invalid) std::cout << "  invalid: " << pc->reason << "\n";
        set_exit_code(1);
        return;
      }
      if (runnable == 0) {
        std::map<std::string, int> why;
        for (const auto& pc : l.cells) why[status_name(pc.status) + (pc.reason.empty() ? "" : ": " + pc.reason)]++;
        std::cout << "SKIPPED: no cell of " << suite << " can run here at tier " << env.tier << "\n";
        for (const auto& [k, v] : why) std::cout << "  " << v << " x " << k << "\n";
        if (!env.cuda_available) {  // what would still block these cells on a GPU machine
          PlanEnv gpu = env;
          gpu.cuda_available = true;
          std::map<std::string, int> deeper;
          for (const auto& s : l.suites)
            for (const auto& pc : plan_suite(*s, gpu))
              deeper[pc.runnable() ? std::string("runnable") : status_name(pc.status) + ": " + pc.reason]++;
          std::cout << "on a GPU machine with this machine's data:\n";
          for (const auto& [k, v] : deeper) std::cout << "  " << v << " x " << k << "\n";
        }
        set_exit_code(kSkipped);
        return;
      }
      RunnerOptions ro;
      ro.device = resolve_device(o.device);
      ro.data = env.data;
      // One store per commit: a rerun of the same build resumes, a new commit recomputes every number
      // instead of checking results an older build produced.
      Store store((std::filesystem::path(o.results) / git_commit()).string());
      const RunSummary s = run_jobs(jobs_for(l.cells), store, ro);
      const bool failed = print_verdicts(make_report(l, store, env.tier, "ctest"));
      set_exit_code((failed || s.failed > 0) ? 1 : 0);
    }));
  }
}

}  // namespace ddb::cli
