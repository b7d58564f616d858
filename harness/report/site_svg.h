// Small self-made SVG charts for the HTML leaderboard site (harness/report/html_site.cpp): no library,
// no script, every label escaped (html_escape), so a chart can be inlined in a page or saved as a .svg
// file and opened from file://. The regress report's strip plots (one column of per-run dots per side, a
// band) are harness/report/svg_plot.*: other charts, the same escaper. Type names differ from svg_plot.h's
// (SvgPointSeries here, SvgSeries there): two classes of one name in the library were an ODR violation (one
// inline destructor served both layouts).
#pragma once
#include <string>
#include <vector>

namespace ddb {

struct SvgPoint {
  double x = 0, y = 0;
  std::string label;  // the point's tooltip (<title>)
};

struct SvgPointSeries {  // one named line or scatter series
  std::string name;
  std::vector<SvgPoint> points;  // drawn in x order, joined by a line in line plots
};

// Lines with markers, one per series, a legend; log2 x axis when `log_x` (IPC 1, 10, 50).
std::string svg_line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<SvgPointSeries>& series, bool log_x);

// Scatter of (x, y) points with the diagonal y = x over the common range (reproduced vs paper).
std::string svg_scatter_diagonal(const std::string& title, const std::string& x_label, const std::string& y_label,
                                 const std::vector<SvgPointSeries>& series);

// Horizontal stacked bars: one bar per category, one segment per stack (pass / fail / ...).
struct SvgStack {
  std::string name;
  std::string color;           // CSS colour
  std::vector<double> values;  // one per category
};
std::string svg_stacked_bars(const std::string& title, const std::vector<std::string>& categories,
                             const std::vector<SvgStack>& stacks);

}  // namespace ddb
