// ddbench: torch-free
#include "harness/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "harness/report/reporter.h"  // html_escape

namespace ddb {

namespace {

std::string num(double v, const char* format = "%.2f") {
  char b[48];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

// A 1-2-5 step giving about `target` intervals over `range`.
double nice_step(double range, int target) {
  const double raw = range / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string render_svg_plot(const SvgPlot& p) {
  const double W = std::max(p.width, 160), H = std::max(p.height, 140);
  const double left = 62, right = 16, top = p.subtitle.empty() ? 34 : 50, bottom = p.band ? 58 : 40;
  const double x0 = left, x1 = W - right, y0 = top, y1 = H - bottom;

  // The y range: every finite value, bar end and band end.
  double lo = INFINITY, hi = -INFINITY;
  auto cover = [&](double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (const auto& s : p.series) {
    for (double v : s.values) cover(v);
    if (s.mean) {
      cover(*s.mean);
      if (s.std) {
        cover(*s.mean - *s.std);
        cover(*s.mean + *s.std);
      }
    }
  }
  if (p.band) {
    cover(p.band->lo);
    cover(p.band->hi);
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 1, hi += 1;
  const double pad = 0.08 * (hi - lo);
  lo -= pad;
  hi += pad;
  auto Y = [&](double v) { return y1 - (v - lo) / (hi - lo) * (y1 - y0); };

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(W, "%.0f") << "\" height=\"" << num(H, "%.0f")
    << "\" viewBox=\"0 0 " << num(W, "%.0f") << " " << num(H, "%.0f")
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<title>" << html_escape(p.title) << "</title>\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << num(W, "%.0f") << "\" height=\"" << num(H, "%.0f") << "\" fill=\"#ffffff\"/>\n";
  o << "<text x=\"" << num(W / 2) << "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
    << html_escape(p.title) << "</text>\n";
  if (!p.subtitle.empty())
    o << "<text x=\"" << num(W / 2) << "\" y=\"32\" text-anchor=\"middle\" fill=\"#444444\">" << html_escape(p.subtitle)
      << "</text>\n";

  // The band first, under everything else.
  if (p.band && std::isfinite(p.band->lo) && std::isfinite(p.band->hi)) {
    const double a = Y(std::max(p.band->lo, p.band->hi)), b = Y(std::min(p.band->lo, p.band->hi));
    o << "<rect class=\"band\" data-lo=\"" << num(p.band->lo, "%.6g") << "\" data-hi=\"" << num(p.band->hi, "%.6g")
      << "\" x=\"" << num(x0) << "\" y=\"" << num(a) << "\" width=\"" << num(x1 - x0) << "\" height=\"" << num(b - a)
      << "\" fill=\"#e69f00\" fill-opacity=\"0.18\" stroke=\"#e69f00\" stroke-dasharray=\"4 3\"/>\n";
    o << "<rect x=\"" << num(x0) << "\" y=\"" << num(H - 20) << "\" width=\"12\" height=\"9\" fill=\"#e69f00\" "
      << "fill-opacity=\"0.18\" stroke=\"#e69f00\" stroke-dasharray=\"4 3\"/>\n";
    o << "<text x=\"" << num(x0 + 17) << "\" y=\"" << num(H - 12) << "\">" << html_escape(p.band->label) << "</text>\n";
  }

  // Axis, ticks and grid.
  o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(y0) << "\" x2=\"" << num(x0) << "\" y2=\"" << num(y1)
    << "\" stroke=\"#000000\"/>\n";
  o << "<line x1=\"" << num(x0) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x1) << "\" y2=\"" << num(y1)
    << "\" stroke=\"#000000\"/>\n";
  const double step = nice_step(hi - lo, 5);
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
    const double y = Y(t);
    o << "<line x1=\"" << num(x0 - 4) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x1) << "\" y2=\"" << num(y)
      << "\" stroke=\"#dddddd\"/>\n";
    o << "<text class=\"tick\" x=\"" << num(x0 - 6) << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\">"
      << num(std::fabs(t) < 1e-12 ? 0.0 : t, "%g") << "</text>\n";
  }
  if (!p.y_label.empty())
    o << "<text x=\"14\" y=\"" << num((y0 + y1) / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 "
      << num((y0 + y1) / 2) << ")\">" << html_escape(p.y_label) << "</text>\n";

  // One column per series: dots left of centre, the mean ± std bar right of it.
  const size_t n = std::max<size_t>(p.series.size(), 1);
  const double col = (x1 - x0) / static_cast<double>(n);
  for (size_t i = 0; i < p.series.size(); ++i) {
    const SvgSeries& s = p.series[i];
    const std::string color = html_escape(s.color);
    const double cx = x0 + (static_cast<double>(i) + 0.5) * col;
    o << "<g class=\"series\" data-label=\"" << html_escape(s.label) << "\">\n";
    int j = 0;
    for (double v : s.values) {
      if (!std::isfinite(v)) continue;
      const double dx = static_cast<double>((j * 7) % 9 - 4) * 2.5;  // a fixed spread, no randomness
      o << "<circle class=\"run\" data-value=\"" << num(v, "%.6g") << "\" cx=\"" << num(cx - 16 + dx) << "\" cy=\""
        << num(Y(v)) << "\" r=\"3.5\" fill=\"" << color << "\" fill-opacity=\"0.75\"/>\n";
      ++j;
    }
    if (s.mean && std::isfinite(*s.mean)) {
      const double bx = cx + 14, ym = Y(*s.mean);
      if (s.std && std::isfinite(*s.std) && *s.std > 0) {
        const double ya = Y(*s.mean + *s.std), yb = Y(*s.mean - *s.std);
        o << "<line class=\"std\" data-std=\"" << num(*s.std, "%.6g") << "\" x1=\"" << num(bx) << "\" y1=\"" << num(ya)
          << "\" x2=\"" << num(bx) << "\" y2=\"" << num(yb) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
        for (double yc : {ya, yb})
          o << "<line x1=\"" << num(bx - 4) << "\" y1=\"" << num(yc) << "\" x2=\"" << num(bx + 4) << "\" y2=\""
            << num(yc) << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n";
      }
      o << "<line class=\"mean\" data-value=\"" << num(*s.mean, "%.6g") << "\" x1=\"" << num(bx - 8) << "\" y1=\""
        << num(ym) << "\" x2=\"" << num(bx + 8) << "\" y2=\"" << num(ym) << "\" stroke=\"" << color
        << "\" stroke-width=\"3\"/>\n";
      o << "<text x=\"" << num(bx + 11) << "\" y=\"" << num(ym + 4) << "\" fill=\"" << color << "\">"
        << num(*s.mean, "%.2f") << "</text>\n";
    }
    o << "<text x=\"" << num(cx) << "\" y=\"" << num(y1 + 15) << "\" text-anchor=\"middle\">" << html_escape(s.label)
      << " (n = " << j << ")</text>\n";
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace ddb
