// `ddbench run` and `ddbench ctest-suite`: plan jobs, distill, evaluate, store, check, report.
#include "cli_common.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "cli_pool.h"
#include "harness/plugins.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "harness/worker_pool.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_run_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("run", "Run suites: plan jobs (cells x seeds), distill, evaluate, store, check, report");
    static Common o;
    static std::vector<std::string> suites;
    static std::string report_dir = "reports", shard = "0/1", cache_dir = default_cache_dir();
    static bool retry_failed = false, no_report = false, quiet = false;
    static int workers = 0, jobs_per_device = 1;
    static std::string devices, stack_runs = "auto";
    static std::vector<std::string> only_jobs;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, true);
    c->add_flag("--retry-failed", retry_failed, "rerun jobs recorded as failed (completed jobs are always skipped)");
    c->add_option("--report-dir", report_dir, "where the Markdown/CSV leaderboard goes")->capture_default_str();
    c->add_flag("--no-report", no_report, "do not write reports");
    c->add_option("--shard", shard,
                  "i/n: run only every n-th job starting at i (Slurm array tasks). Give each task its own --results\n"
                  "directory (e.g. results/shard-$SLURM_ARRAY_TASK_ID) and combine them afterwards with\n"
                  "`ddbench merge DIRS... --into STORE`: one SQLite store shared by tasks on a network file system\n"
                  "(NFS, Lustre) is unsafe (its locking and WAL need one host). A shard writes no report (its\n"
                  "results are partial); `ddbench report` on the merged store does")
        ->capture_default_str();
    c->add_flag("-q,--quiet", quiet, "no progress lines");
    c->add_option("--cache", cache_dir, "reusable artefacts such as expert trajectories (default $DDBENCH_CACHE, else ./cache)")
        ->capture_default_str();
    c->add_option("--workers", workers,
                  "run jobs concurrently in N worker processes (the device pool): a crash, out-of-memory kill or\n"
                  "CUDA error in one fails that job, not the run; this process alone writes the store. Jobs go\n"
                  "longest first (measured times of earlier seeds); threads are split over the CPU workers\n"
                  "unless --threads is given. Default: one in-process job at a time")->check(at_least(1));
    c->add_option("--devices", devices,
                  "the pool's devices: cpu | cuda:all | a list such as cuda:0,cuda:1 (each gets --jobs-per-device\n"
                  "workers; --workers caps or cycles them). Implies the pool");
    c->add_option("--jobs-per-device", jobs_per_device, "workers per device in the pool (small jobs share a GPU)")
        ->check(at_least(1))->capture_default_str();
    c->add_option("--stack-runs", stack_runs,
                  "on | off | auto: train a job's evaluation runs (eval.runs) as one stacked model: grouped\n"
                  "convolutions over the runs side by side, each run keeping its own seed, data order, augmentation\n"
                  "and optimizer state (results equal the sequential runs' up to float rounding). ConvNet-family\n"
                  "nets under the dc and mtt protocols; others run one after the other. auto: on for GPUs, off on\n"
                  "the CPU (slower there: ddbench bench --stack-runs). Recorded as provenance eval_runs")
        ->check(CLI::IsMember({"on", "off", "auto"}))
        ->capture_default_str();
    c->add_option("--only-job", only_jobs,
                  "run only the job with this key (distill_hash/sSEED/eval_hash; repeatable): what a pool worker runs");
    c->footer(
        "Test-only environment variables (the tests of the pool and of `ddbench regress`; never for results that\n"
        "are kept; the first two are recorded in each result's provenance):\n"
        "  DDBENCH_TEST_DAMAGE=<fraction> | <method>:<fraction>  damage a method: that fraction of each synthetic\n"
        "      set's images get the next class's label before evaluation (a deliberate regression; same keys)\n"
        "  DDBENCH_TEST_SEED_SALT=<text>  new distillation and evaluation seeds for the same configurations\n"
        "  DDBENCH_TEST_ABORT_JOB=<key>   the process running that job aborts (crash isolation)");
    c->callback(guarded([] {
      init_runtime(o.threads);
      const PlanEnv env = make_env(o);
      Loaded l = load_and_plan(suites, env);
      auto jobs = jobs_for(l.cells);
      if (!only_jobs.empty()) {
        std::vector<Job> kept;
        for (const auto& key : only_jobs) {
          const auto it = std::find_if(jobs.begin(), jobs.end(), [&](const Job& j) { return j.key() == key; });
          if (it == jobs.end()) throw UserError("--only-job " + key + ": no such job in these suites at tier " + env.tier);
          kept.push_back(*it);
        }
        jobs = kept;
      }
      const bool pool = workers > 1 || !devices.empty();
      int runnable = 0;
      for (const auto& pc : l.cells) runnable += pc.runnable() ? 1 : 0;
      RunnerOptions ro;
      ro.device = resolve_device(o.device);
      ro.data = env.data;
      ro.retry_failed = retry_failed;
      ro.quiet = quiet;
      ro.cache_dir = cache_dir;
      ro.stack_runs = resolve_stack_runs(stack_runs, ro.device);
      if (std::sscanf(shard.c_str(), "%d/%d", &ro.shard_index, &ro.shard_count) != 2 || ro.shard_count < 1 ||
          ro.shard_index < 0 || ro.shard_index >= ro.shard_count)
        throw UserError("--shard must be i/n with 0 <= i < n, got '" + shard + "'");
      std::cerr << "ddbench run: tier " << env.tier << ", device " << device_name(ro.device) << ", threads "
                << torch::get_num_threads() << ", " << l.cells.size() << " cells (" << runnable << " runnable here), "
                << jobs.size() << " jobs, store " << o.results << ", evaluation runs "
                << (ro.stack_runs ? "stacked where the net allows" : "one after the other") << "\n";
      std::set<std::string> datasets;  // which copy of each dataset the jobs read (also stored per job)
      for (const auto& j : jobs) datasets.insert(j.run.config.at("dataset").get<std::string>());
      for (const auto& d : datasets) std::cerr << "ddbench run: dataset " << d << ": " << dataset_location(d, env.data) << "\n";
      Store store(o.results);
      RunSummary s;
      if (pool) {
        std::vector<Job> mine;  // the shard's jobs, as run_jobs picks them
        for (size_t i = 0; i < jobs.size(); ++i)
          if (static_cast<int>(i % ro.shard_count) == ro.shard_index) mine.push_back(jobs[i]);
        PoolOptions po;
        po.slots = pool_slots(devices, workers, jobs_per_device);
        po.threads_per_worker = pool_threads(o.threads, po.slots);
        po.executable = fs::read_symlink("/proc/self/exe").string();
        po.run_args = {"run"};
        po.run_args.insert(po.run_args.end(), suites.begin(), suites.end());
        for (const std::string& a : {std::string("--tier"), env.tier, std::string("--cache"), cache_dir})
          po.run_args.push_back(a);
        if (!o.data_root.empty()) po.run_args.insert(po.run_args.end(), {"--data-root", o.data_root});
        if (o.allow_cpu) po.run_args.push_back("--allow-cpu");
        if (retry_failed) po.run_args.push_back("--retry-failed");
        po.run_args.insert(po.run_args.end(), {"--stack-runs", stack_runs});
        for (const auto& p : loaded_plugins()) po.run_args.insert(po.run_args.end(), {"--plugin", p.at("path").get<std::string>()});
        po.work_dir = (fs::path(o.results) / ".pool").string();
        po.retry_failed = retry_failed;
        po.quiet = quiet;
        s = run_pool(mine, store, po);
      } else {
        s = run_jobs(jobs, store, ro);
      }
      std::cerr << "ddbench run: " << s.succeeded << " jobs done, " << s.failed << " failed, " << s.skipped_done
                << " already done, " << s.skipped_failed << " failed earlier, in " << static_cast<int>(s.seconds) << " s\n";
      const ReportInput in = make_report(l, store, env.tier, report_title_for(suites));
      const bool failed = print_verdicts(in);
      if (ro.shard_count > 1)
        std::cerr << "ddbench run: shard " << shard << ": no report (partial results); merge the shards' stores with "
                  << "`ddbench merge DIRS... --into STORE`, then `ddbench report ... --results STORE`\n";
      else if (!no_report)
        write_reports(in, report_dir, report_name_for(suites));
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
