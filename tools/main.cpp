// ddbench: the command line. It only composes the stages (suite -> plan -> run -> store -> check ->
// report); ctest, Slurm shards and the nightly job call these same verbs.
#include <CLI/CLI.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "harness/plugins.h"
#include "harness/runtime.h"

namespace ddb::cli {
void register_bench_command(CLI::App& app);  // tools/cli_bench.cpp: end-to-end timings
}

int main(int argc, char** argv) {
  CLI::App app{
      "ddbench: reproduce dataset-distillation papers, check every number against a tolerance band, and publish a "
      "leaderboard.\n\nTypical use:\n  ddbench run suites/quickstart.yaml      distill + evaluate + reports/quickstart.{md,csv}\n"
      "  ddbench check suites/quickstart.yaml    verdicts from the stored results (exit 1 on a failing cell)\n"
      "  ddbench suites coverage                 what runs here, and why the rest does not\n\n"
      "Exit codes: 0 done; 1 a failing cell, failed job, regression or diverged training; 2 bad input (nothing run);\n"
      "3 an internal error; 77 ctest-suite with nothing runnable here (skipped).\n"};
  app.require_subcommand(1);
  app.set_version_flag("--version", ddb::ddbench_version());
  // Out-of-tree methods: loaded while the options are read, before the command runs, so their names are
  // known to it (`ddbench --plugin my.so list methods`, or after the verb: `ddbench run ... --plugin my.so`).
  static std::vector<std::string> plugin_files;
  app.add_option("--plugin", plugin_files,
                 "load methods (protocols, metrics) from a plugin built against this ddbench (examples/plugin); "
                 "repeatable")
      ->each([](const std::string& path) { ddb::load_plugin(path); });
  app.fallthrough();
  // One file per verb (tools/cli_<verb>.cpp); the order here is the order --help lists them.
  ddb::cli::register_run_commands(app);
  ddb::cli::register_check_commands(app);
  ddb::cli::register_list_command(app);
  ddb::cli::register_distill_command(app);
  ddb::cli::register_evaluate_command(app);
  ddb::cli::register_submit_command(app);
  ddb::cli::register_references_command(app);
  ddb::cli::register_slurm_command(app);
  ddb::cli::register_merge_command(app);
  ddb::cli::register_regress_command(app);
  ddb::cli::register_suite_commands(app);
  ddb::cli::register_experts_command(app);
  ddb::cli::register_complexity_command(app);
  ddb::cli::register_bench_command(app);
  // A mistyped verb would otherwise read "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::string verbs;
    bool known = false;
    for (const CLI::App* verb : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || verb->check_name(argv[1]);
      verbs += (verbs.empty() ? "" : ", ") + verb->get_name();
    }
    if (!known) {
      std::cerr << "ddbench: error: unknown command '" << argv[1] << "'; commands: " << verbs << " (ddbench --help)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version exit 0; every usage error exits 2, as every other bad input does (CLI11's own
    // codes, 105 for a failed validator or 109 for an unknown flag, would differ by the kind of mistake).
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const ddb::UserError& e) {  // a plugin that cannot be loaded
    std::cerr << "ddbench: error: " << e.what() << "\n";
    return 2;
  }
  return ddb::cli::exit_code();
}
