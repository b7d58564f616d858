// `ddbench check` and `ddbench report`: verdicts and leaderboards from the stored results (no run).
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "harness/report/reporter.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_check_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("check", "Verdicts of suites from the stored results; exit 1 when a cell fails");
    static Common o;
    static std::vector<std::string> suites;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, false);
    c->callback(guarded([] {
      set_exit_code(print_verdicts(read_stored_results(suites, o, "check").report) ? 1 : 0);
    }));
  }
  {
    auto* c = app.add_subcommand("report", "Render the leaderboard of suites from the stored results");
    static Common o;
    static std::vector<std::string> suites;
    static std::string format = "markdown", out;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, false);
    c->add_option("--format", format, "markdown | csv | json")->capture_default_str();
    c->add_option("--out", out, "output file (default: stdout)");
    c->callback(guarded([] {
      const StoredResults stored = read_stored_results(suites, o, "ddbench leaderboard: " + report_name_for(suites));
      const ReportInput& in = stored.report;
      auto rep = make_reporter(format);
      if (out.empty()) {
        rep->write(in, std::cout);
      } else {
        std::ofstream f(out);
        rep->write(in, f);
      }
    }));
  }
}

}  // namespace ddb::cli
