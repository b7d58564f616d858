// ddbench: torch-free
// The regression report's two formats: Markdown (people: the nightly page) and JSON (tools, trend files).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/regress.h"
#include "harness/report/reporter.h"
#include "harness/report/svg_plot.h"

namespace ddb {

namespace {

// Markdown cells go through the leaderboard's md_cell (reporter.h): `|`, newlines, `<` `>` `&`, backslash, backtick.
std::string esc(const std::string& s) { return md_cell(s); }

std::string side_text(const RegressSide& s) {
  if (!s.mean) return s.status;
  return fmt_mean_std(s.mean, s.std) + " (" + std::to_string(s.n) + ")";
}

std::string number(double v, const char* format) {
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string p_cell(const std::optional<WelchResult>& t) {
  if (!t) return "";
  return number(t->p, t->p < 1e-3 ? "%.1e" : "%.3f");
}

std::string t_cell(const std::optional<WelchResult>& t) {
  if (!t) return "";
  if (std::isinf(t->t)) return std::string(t->t > 0 ? "+inf" : "-inf") + " (" + number(t->df, "%.1f") + ")";
  return number(t->t, "%+.2f") + " (" + number(t->df, "%.1f") + ")";
}

json opt(const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(nullptr); }

json side_json(const RegressSide& s) {
  return {{"mean", opt(s.mean)}, {"std", opt(s.std)}, {"n", s.n}, {"runs", s.runs}, {"status", s.status},
          {"reason", s.reason}};
}

}  // namespace

std::string regress_row_svg(const RegressRow& row) {
  SvgPlot p;
  p.title = row.suite->id + " / " + row.cell->id + ": " + regress_verdict_name(row.verdict);
  p.subtitle = row.setting.substr(0, 60) + (row.diff ? "  Δ " + number(*row.diff, "%+.2f") : "") +
               (row.test ? ", p " + p_cell(row.test) : "");
  p.y_label = row.metric_row + (row.higher_is_better ? " (higher is better)" : " (lower is better)");
  const bool worse = row.verdict == RegressVerdict::Regressed || row.verdict == RegressVerdict::Failed;
  auto series = [](const std::string& label, const RegressSide& side, const std::string& color) {
    SvgSeries s;
    s.label = label;
    s.values = side.runs;
    s.mean = side.mean;
    s.std = side.std;
    s.color = color;
    return s;
  };
  p.series.push_back(series("baseline", row.baseline, "#4c72b0"));
  p.series.push_back(series("candidate", row.candidate, worse ? "#c44e52" : "#55a868"));
  if (row.band && row.baseline.mean)
    p.band = SvgBand{*row.baseline.mean - *row.band, *row.baseline.mean + *row.band,
                     "band: baseline mean ± " + number(*row.band, "%.2f")};
  return render_svg_plot(p);
}

int write_regress_plots(RegressReport& r, const std::string& out_dir, const std::string& name) {
  namespace fs = std::filesystem;
  int written = 0;
  for (auto& row : r.rows) {
    if (row.verdict != RegressVerdict::Regressed && row.verdict != RegressVerdict::Improved) continue;
    // Suite and cell ids are [a-z0-9_.+-] (suites validate): safe as a file name.
    const std::string rel = name + "-plots/" + row.suite->id + "." + row.cell->id + ".svg";
    const fs::path path = fs::path(out_dir) / rel;
    fs::create_directories(path.parent_path());
    {
      std::ofstream f(path.string() + ".tmp");
      f << regress_row_svg(row);
      if (!f) throw std::runtime_error("cannot write " + path.string());
    }
    fs::rename(path.string() + ".tmp", path);
    row.plot = rel;
    ++written;
  }
  return written;
}

void write_regress_markdown(const RegressReport& r, std::ostream& out) {
  out << "# ddbench regress\n\n";
  out << "Candidate `" << r.candidate << "` against baseline `" << r.baseline << "`, tier `" << r.tier << "`, alpha "
      << r.alpha << ". Generated " << str_or(r.provenance, "generated_at", "") << " by ddbench "
      << str_or(r.provenance, "git_commit", "") << ".\n\n";
  out << "Verdicts:";
  for (auto v : {RegressVerdict::Regressed, RegressVerdict::Failed, RegressVerdict::Missing, RegressVerdict::New,
                 RegressVerdict::Improved, RegressVerdict::Unchanged})
    out << " " << regress_verdict_name(v) << " " << r.count(v) << (v == RegressVerdict::Unchanged ? "" : " ·");
  out << ". " << r.not_listed << " cells with no result on either side are not listed.\n\n";
  out << "Mean ± std (ddof 0) (n runs). Δ = candidate − baseline. Welch's t-test, two-sided p (t > 0: candidate "
         "higher). **regressed** / **improved** = p < alpha *and* |Δ| beyond the band max(floor, k · baseline std), "
         "in the metric's direction; with n < 2 on a side the band alone decides. \"band verdict\" is the candidate's "
         "`ddbench check` verdict against its committed reference (or the paper).\n\n";
  out << "| verdict | suite | cell | setting | metric | baseline | candidate | Δ | band | t (df) | p | band verdict | "
         "reason | plot |\n";
  out << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : r.rows) {
    const std::string v = regress_verdict_name(row.verdict);
    const bool loud = row.verdict == RegressVerdict::Regressed || row.verdict == RegressVerdict::Failed;
    out << "| " << (loud ? "**" + v + "**" : v) << " | " << esc(row.suite->id) << " | " << esc(row.cell->id) << " | "
        << esc(row.setting) << " | " << esc(row.metric_row) << (row.higher_is_better ? " ↑" : " ↓") << " | "
        << esc(side_text(row.baseline)) << " | " << esc(side_text(row.candidate)) << " | "
        << (row.diff ? number(*row.diff, "%+.2f") : "") << " | " << (row.band ? "±" + number(*row.band, "%.2f") : "")
        << " | " << t_cell(row.test) << " | " << p_cell(row.test) << " | " << esc(row.band_verdict) << " | "
        << esc(row.reason.substr(0, 300)) << " | " << (row.plot.empty() ? "" : "[svg](" + row.plot + ")") << " |\n";
  }
  out << "\n";
  bool any_plot = false;
  for (const auto& row : r.rows) any_plot = any_plot || !row.plot.empty();
  if (!any_plot) return;
  out << "## Changed cells\n\nDots: per-run values; bar: mean ± std; shaded: the band around the baseline mean.\n\n";
  for (const auto& row : r.rows)
    if (!row.plot.empty())
      out << "![" << row.suite->id << " / " << row.cell->id << ": " << regress_verdict_name(row.verdict) << "]("
          << row.plot << ")\n";
  out << "\n";
}

json regress_json(const RegressReport& r) {
  json doc = {{"baseline", r.baseline},   {"candidate", r.candidate}, {"tier", r.tier},
              {"alpha", r.alpha},         {"not_listed", r.not_listed}, {"provenance", r.provenance},
              {"counts", json::object()}, {"cells", json::array()}};
  for (auto v : {RegressVerdict::Regressed, RegressVerdict::Failed, RegressVerdict::Missing, RegressVerdict::New,
                 RegressVerdict::Improved, RegressVerdict::Unchanged})
    doc["counts"][regress_verdict_name(v)] = r.count(v);
  for (const auto& row : r.rows) {
    json test = nullptr;
    if (row.test) test = {{"t", opt(row.test->t)}, {"df", row.test->df}, {"p", row.test->p}};
    doc["cells"].push_back({{"suite", row.suite->id},
                            {"cell", row.cell->id},
                            {"setting", row.setting},
                            {"metric", row.metric_row},
                            {"higher_is_better", row.higher_is_better},
                            {"config_hash", row.config_hash},
                            {"baseline", side_json(row.baseline)},
                            {"candidate", side_json(row.candidate)},
                            {"diff", opt(row.diff)},
                            {"band", opt(row.band)},
                            {"welch", test},
                            {"band_verdict", row.band_verdict},
                            {"verdict", regress_verdict_name(row.verdict)},
                            {"reason", row.reason},
                            {"plot", row.plot.empty() ? json(nullptr) : json(row.plot)}});
  }
  return doc;
}

}  // namespace ddb
