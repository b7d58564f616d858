// `ddbench check` and `ddbench report`: verdicts and leaderboards from the stored results (no run).
#include "cli_common.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "harness/report/html_site.h"
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
    static bool no_grids = false;
    static int grid_classes = 10, grid_ipc = 10;
    c->add_option("suites", suites, "suite files or directories")->required();
    add_common(c, o, false);
    std::string formats;  // from the reporter registry, as `ddbench list formats` prints them
    for (const auto& [name, r] : reporter_registry().items())
      formats += (formats.empty() ? "" : " | ") + name + (r.site ? " (a static site: --out names its folder)" : "");
    c->add_option("--format", format, formats)->capture_default_str();
    c->add_option("--out", out, "output file (default: stdout); for html the site's folder");
    c->add_flag("--no-grids", no_grids, "html: no image grids of the distilled sets");
    c->add_option("--grid-classes", grid_classes, "html: classes (rows) per image grid")->capture_default_str();
    c->add_option("--grid-ipc", grid_ipc, "html: images per class (columns) per image grid")->check(at_least(1))->capture_default_str();
    c->callback(guarded([] {
      const ReporterInfo& info = find_reporter(format);  // unknown -> the registered formats, before any reading
      if (info.site && out.empty())
        throw UserError("--format " + info.name + " writes a site (index.html, pages, plots, image grids): pass --out DIR");
      const StoredResults stored = read_stored_results(suites, o, report_title_for(suites));
      const ReportInput& in = stored.report;
      if (info.site) {
        SiteOptions so;
        so.grids = !no_grids;
        so.grid_max_classes = grid_classes, so.grid_max_ipc = grid_ipc;
        so.data_root = o.data_root;
        const SiteSummary sum = write_html_site(in, *stored.store, out, so);
        std::cerr << "wrote " << out << "/index.html: " << sum.leaderboards << " leaderboard(s), " << sum.rows << " row(s), "
                  << sum.grids << " image grid(s), " << sum.files.size() << " file(s)\n";
        return;
      }
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
