// What the verbs of the command line share: the common options (tier, results, data, device), planning
// suites, the verdict table and report files, and the error guard that turns bad input into a one-line
// message and exit code 2. One file per verb (cli_run.cpp, cli_check.cpp, ...) uses these.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "harness/plan.h"
#include "harness/types.h"  // torch::Device
#include "harness/report/reporter.h"
#include "harness/store.h"

namespace ddb::cli {

constexpr int kSkipped = 77;  // ctest SKIP_RETURN_CODE

int exit_code();
void set_exit_code(int code);

struct Common {
  std::string tier = "auto";
  std::string results = "results";
  std::string data_root;
  std::string device = "auto";
  int threads = 0;
  bool allow_cpu = false;
};

void add_common(CLI::App* c, Common& o, bool run_options);
// A whole-number option's floor: `--runs 0` is refused as "--runs: must be >= 1, got 0" before anything
// runs, instead of being read as "not given" or training nothing.
CLI::Validator at_least(long long min);
bool cuda_available();
std::string resolve_tier(const std::string& t);
torch::Device resolve_device(const std::string& d);
PlanEnv make_env(const Common& o);
std::vector<std::string> expand_suite_args(const std::vector<std::string>& args);

struct Loaded {
  std::vector<std::unique_ptr<Suite>> suites;
  std::vector<PlannedCell> cells;
};

Loaded load_and_plan(const std::vector<std::string>& args, const PlanEnv& env);
std::string now_utc();
// What `check`, `report` and `references` read: the suites planned at the tier and their verdicts from
// an existing store (a mistyped --results would otherwise read as an empty store, every cell not-run).
struct StoredResults {
  PlanEnv env;
  Loaded loaded;                 // owns the suites the report points into
  std::unique_ptr<Store> store;
  ReportInput report;
};
StoredResults read_stored_results(const std::vector<std::string>& suites, const Common& o, const std::string& title);
ReportInput make_report(const Loaded& l, const Store& store, const std::string& tier, const std::string& title);
// Prints the verdict table; returns whether any cell or relation failed.
bool print_verdicts(const ReportInput& in);
void write_reports(const ReportInput& in, const std::string& dir, const std::string& name);
std::string report_name_for(const std::vector<std::string>& args);
// The reports' title: "ddbench leaderboard: NAME" for one suite file or folder, "ddbench leaderboard" for several.
std::string report_title_for(const std::vector<std::string>& args);
json parse_option_value(const std::string& v);

// Wraps a callback: bad input becomes a one-line error and exit code 2, a diverged training (distill,
// experts) a one-line error and exit code 1, anything else (a defect, the environment) exit code 3; never a crash.
template <typename F>
std::function<void()> guarded(F f) {
  return [f]() {
    try {
      f();
    } catch (const UserError& e) {
      std::cerr << "ddbench: error: " << e.what() << "\n";
      set_exit_code(2);
    } catch (const DatasetMissing& e) {
      std::cerr << "ddbench: dataset missing: " << e.what() << "\n";
      set_exit_code(2);
    } catch (const Diverged& e) {
      std::cerr << "ddbench: training diverged: " << e.what() << "\n";
      set_exit_code(1);
    } catch (const std::exception& e) {  // a defect or the environment (SQLite, disk): still one line, no abort
      std::cerr << "ddbench: internal error: " << e.what() << "\n";
      set_exit_code(3);
    }
  };
}

// One registration function per verb (each in its own file).
void register_run_commands(CLI::App& app);       // run, ctest-suite
void register_check_commands(CLI::App& app);     // check, report
void register_list_command(CLI::App& app);
void register_distill_command(CLI::App& app);
void register_evaluate_command(CLI::App& app);
void register_suite_commands(CLI::App& app);     // suites validate | coverage
void register_experts_command(CLI::App& app);
void register_references_command(CLI::App& app);
void register_complexity_command(CLI::App& app);  // Comp-DD class complexity (Grad-CAM)
void register_submit_command(CLI::App& app);      // submission bundles (harness/submission.h)
void register_merge_command(CLI::App& app);       // combine result stores (Slurm array tasks)
void register_regress_command(CLI::App& app);     // baseline vs candidate: what got worse
void register_slurm_command(CLI::App& app);       // sbatch array scripts (harness/slurm_script.h)

}  // namespace ddb::cli
