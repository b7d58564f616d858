// `ddbench regress`: what got worse between a baseline and a candidate store (harness/regress.h).
#include "cli_common.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "harness/regress.h"
#include "harness/runtime.h"

namespace ddb::cli {

namespace fs = std::filesystem;

void register_regress_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "regress",
      "Compare a candidate store with a baseline (an earlier store, or `references`: the suites' committed per-run\n"
      "references at the tier) cell by cell: mean ± std and n of each, the difference, Welch's t-test, the\n"
      "candidate's band verdict and regressed / improved / unchanged / new / missing / failed, most severe first.\n"
      "Regressed = worse in the metric's direction with p < alpha AND beyond the cell's band. Writes\n"
      "<out-dir>/<name>.md and .json, and an SVG per regressed or improved cell in <out-dir>/<name>-plots/\n"
      "(linked from the Markdown); exit 1 when a cell regressed");
  static std::vector<std::string> suites;
  static std::string baseline, candidate, tier = "auto", out_dir = "reports/regress", name = "regress", data_root;
  static double alpha = 0.01;
  c->add_option("suites", suites, "suite files or directories (default: suites)");
  c->add_option("--baseline", baseline, "a store directory, or `references` (the committed cpu-tier runs)")->required();
  c->add_option("--candidate", candidate, "the store directory to judge")->required();
  c->add_option("--tier", tier, "cpu | paper | auto (paper when a GPU is present, else cpu)")->capture_default_str();
  c->add_option("--alpha", alpha, "significance level of the Welch test")->capture_default_str()->check(
      CLI::Range(1e-12, 0.5));
  c->add_option("--out-dir", out_dir, "where <name>.md and <name>.json go")->capture_default_str();
  c->add_option("--name", name, "report file name without extension")->capture_default_str();
  c->add_option("--data-root", data_root, "where datasets live (planning only; results are read, not run)");
  static std::string trend, trend_date;
  c->add_option("--trend", trend,
                "append one CSV line per listed cell to this file (header when new): date, commit, suite, cell,\n"
                "metric, mean, std, n, verdict (the candidate's side; ci/nightly.sh keeps reports/nightly/trend.csv)");
  c->add_option("--trend-date", trend_date, "the date column of those lines (default: today, UTC)");
  c->callback(guarded([] {
    Common o;
    o.tier = tier;
    o.data_root = data_root;
    const PlanEnv env = make_env(o);
    auto need_store = [](const std::string& dir, const std::string& what) {
      if (!fs::exists(fs::path(dir) / "results.sqlite"))
        throw UserError("--" + what + " '" + dir + "': no result store there (no results.sqlite)");
    };
    const bool from_references = baseline == "references";
    if (from_references && env.tier == "paper")
      throw UserError("--baseline references: committed references are for a tier profile (--tier cpu), not the paper tier");
    if (!from_references) need_store(baseline, "baseline");
    need_store(candidate, "candidate");
    const Loaded l = load_and_plan(suites.empty() ? std::vector<std::string>{"suites"} : suites, env);
    std::unique_ptr<Store> base_store;
    if (!from_references) base_store = std::make_unique<Store>(baseline);
    const Store cand_store(candidate);
    RegressReport rep = regress_cells(l.cells, base_store.get(), cand_store, env.tier, alpha);
    rep.provenance = {{"generated_at", now_utc()}, {"git_commit", git_commit()}, {"cells", l.cells.size()}};
    fs::create_directories(out_dir);
    const int plots = write_regress_plots(rep, out_dir, name);  // before the Markdown, which links them
    write_regress_markdown(rep, std::cout);
    const fs::path md = fs::path(out_dir) / (name + ".md"), js = fs::path(out_dir) / (name + ".json");
    {
      std::ofstream f(md.string() + ".tmp");
      write_regress_markdown(rep, f);
    }
    fs::rename(md.string() + ".tmp", md);
    {
      std::ofstream f(js.string() + ".tmp");
      f << regress_json(rep).dump(2) << "\n";
    }
    fs::rename(js.string() + ".tmp", js);
    std::cerr << "wrote " << md.string() << " and " << js.string();
    if (plots > 0) std::cerr << " and " << plots << " plot(s) in " << (fs::path(out_dir) / (name + "-plots")).string();
    std::cerr << "\n";
    if (!trend.empty()) {
      const bool fresh = !fs::exists(trend) || fs::file_size(trend) == 0;
      if (fs::path(trend).has_parent_path()) fs::create_directories(fs::path(trend).parent_path());
      std::ofstream f(trend, std::ios::app);
      auto field = [](const std::string& v) {  // RFC 4180: quote when needed
        if (v.find_first_of(",\"\n") == std::string::npos) return v;
        std::string q = "\"";
        for (char ch : v) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return q + "\"";
      };
      auto num = [](const std::optional<double>& v) {
        if (!v) return std::string();
        char b[32];
        std::snprintf(b, sizeof b, "%.4f", *v);
        return std::string(b);
      };
      if (fresh) f << "date,commit,suite,cell,metric,mean,std,n,verdict\n";
      const std::string date = trend_date.empty() ? now_utc().substr(0, 10) : trend_date, commit = git_commit();
      for (const auto& row : rep.rows)
        f << field(date) << "," << field(commit) << "," << field(row.suite->id) << "," << field(row.cell->id) << ","
          << field(row.metric_row) << "," << num(row.candidate.mean) << "," << num(row.candidate.std) << ","
          << row.candidate.n << "," << regress_verdict_name(row.verdict) << "\n";
      if (!f) throw UserError("--trend " + trend + ": cannot append");
      std::cerr << "appended " << rep.rows.size() << " line(s) to " << trend << "\n";
    }
    set_exit_code(rep.count(RegressVerdict::Regressed) > 0 ? 1 : 0);
  }));
}

}  // namespace ddb::cli
