// The regression report (ddbench regress): each cell's result in a candidate store against a baseline
// (an earlier store, or the suites' committed per-run references at a tier), with a Welch t-test, the
// candidate's band verdict and a verdict that noise does not trigger:
//   regressed  worse in the metric's direction, Welch p < alpha AND |difference| beyond the band
//              (max(floor, k * baseline std), the cell's or suite's band): both, so neither a significant
//              but tiny shift nor a large but noisy one is flagged;
//   improved   the same, better;
//   unchanged  anything else with results on both sides (the reason says which condition was not met);
//   failed     the candidate's runs failed (a failed job, or diverged runs the cell does not allow);
//   missing    the baseline has a result, the candidate none (not run, partly run, or no longer runnable);
//   new        the candidate has a result, the baseline none.
// With fewer than 2 runs on a side there is no variance to test: the band alone decides, and the reason
// says so. Cells with no result on either side are counted, not listed.
#pragma once
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/json.h"
#include "harness/check.h"
#include "harness/stats.h"

namespace ddb {

enum class RegressVerdict { Regressed, Failed, Missing, New, Improved, Unchanged };  // severity order
std::string regress_verdict_name(RegressVerdict v);

// One side of a comparison: mean and std (ddof 0, as cells and references report them) over n runs.
struct RegressSide {
  std::optional<double> mean, std;
  int n = 0;
  std::string status;  // that side's check verdict ("pass", "failed", "not-run", ...) or "reference"
  std::string reason;
  std::vector<double> runs;  // the per-run values behind mean and std, when known (plots draw them)
};

// The statistical core: candidate against baseline for a metric direction and a band.
struct Comparison {
  double diff = 0;                  // candidate - baseline
  double band = 0;                  // half-width
  std::optional<WelchResult> test;  // candidate vs baseline (t > 0: candidate larger); none with n < 2
  RegressVerdict verdict = RegressVerdict::Unchanged;
  std::string reason;
};
Comparison compare_sides(const RegressSide& baseline, const RegressSide& candidate, bool higher_is_better,
                         const Band& band, double alpha);

struct RegressRow {
  const Suite* suite = nullptr;
  const Cell* cell = nullptr;
  std::string setting, metric_row, config_hash;
  bool higher_is_better = true;
  RegressSide baseline, candidate;
  std::optional<double> diff, band;
  std::optional<WelchResult> test;
  std::string band_verdict;  // the candidate's verdict from `ddbench check` (against the reference or paper)
  RegressVerdict verdict = RegressVerdict::Unchanged;
  std::string reason;
  std::string plot;  // the row's SVG, relative to the report's folder (write_regress_plots), or empty
};

struct RegressReport {
  std::string baseline, candidate, tier;  // baseline: a store directory, or "references (tier cpu)"
  double alpha = 0.01;
  std::vector<RegressRow> rows;  // by severity: regressed, failed, missing, new, improved, unchanged
  int not_listed = 0;            // cells with no result on either side
  json provenance = json::object();
  int count(RegressVerdict v) const;
};

// `baseline` null: the cells' committed references at `tier` (their raw runs when present) are the baseline.
RegressReport regress_cells(const std::vector<PlannedCell>& cells, const Store* baseline, const Store& candidate,
                            const std::string& tier, double alpha);

// Reporters (harness/report/regress_report.cpp).
// The SVG of one row (harness/report/svg_plot.h): baseline and candidate per-run values as dots, their
// mean ± std as bars, and the band (baseline mean ± the band half-width) the verdict used.
std::string regress_row_svg(const RegressRow& row);
// Writes <out_dir>/<name>-plots/<suite>.<cell>.svg for every regressed and improved row and sets row.plot
// to that path relative to out_dir (the Markdown links it); returns how many were written.
int write_regress_plots(RegressReport& r, const std::string& out_dir, const std::string& name);
void write_regress_markdown(const RegressReport& r, std::ostream& out);
json regress_json(const RegressReport& r);

}  // namespace ddb
