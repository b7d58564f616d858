// ddbench: torch-free
// Small self-contained SVG plots (no scripts, no external fonts or stylesheets: a generic font family and
// inline attributes), for reports that link them: `ddbench regress` draws each changed cell with it and a
// leaderboard can reuse it. A "strip plot": one column per series, each per-run value a dot, the mean ± std
// a bar beside the dots, and an optional horizontal band (e.g. the baseline mean ± the regression band).
// Every string that goes into the SVG is escaped with html_escape (reporter.h), as on the site's pages. Each dot carries its value
// (data-value="...") so tests and tools can read the plot back.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ddb {

struct SvgSeries {
  std::string label;               // under the column ("baseline", "candidate")
  std::vector<double> values;      // per-run values: one dot each (non-finite values are skipped)
  std::optional<double> mean, std; // the bar: mean ± std (std 0 or absent: the mean tick only)
  std::string color = "#4c72b0";   // a CSS colour; escaped like every other string
};

struct SvgBand {
  double lo = 0, hi = 0;  // drawn across all columns
  std::string label;      // legend text, e.g. "band: baseline mean ± 2.00"
};

struct SvgPlot {
  std::string title, subtitle, y_label;
  std::vector<SvgSeries> series;
  std::optional<SvgBand> band;
  int width = 420, height = 280;
};

// The whole document (<?xml ...?><svg ...>...</svg>). The y range covers every value, bar and band end,
// padded; a flat range is widened to ±1 around its value. Higher values are drawn higher.
std::string render_svg_plot(const SvgPlot& plot);

}  // namespace ddb
