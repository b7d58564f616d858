// ddbench: torch-free
#include "harness/report/site_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "harness/report/reporter.h"

namespace ddb {
namespace {

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string tick(double v) {
  char b[32];
  if (std::fabs(v - std::round(v)) < 1e-9) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

struct Frame {
  double W = 560, H = 340, L = 60, R = 170, T = 36, B = 48;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  bool log_x = false;
  double tx(double x) const {
    const double a = log_x ? std::log2(std::max(x, 1e-9)) : x, lo = log_x ? std::log2(x0) : x0,
                 hi = log_x ? std::log2(x1) : x1;
    return L + (hi > lo ? (a - lo) / (hi - lo) : 0.5) * (W - L - R);
  }
  double ty(double y) const { return H - B - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - T - B); }
};

std::string open_svg(const Frame& f, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" + num(f.W) + "\" height=\"" + num(f.H) +
         "\" viewBox=\"0 0 " + num(f.W) + " " + num(f.H) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" + html_escape(title) + "</title>\n<text x=\"" +
         num(f.W / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">" + html_escape(title) +
         "</text>\n";
}

// Nice round bounds and ticks.
std::vector<double> nice_ticks(double& lo, double& hi) {
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const double raw = (hi - lo) / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) { step = m * mag; break; }
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  std::vector<double> t;
  for (double v = lo; v <= hi + step / 2; v += step) t.push_back(v);
  return t;
}

std::string axes(const Frame& f, const std::vector<double>& xt, const std::vector<double>& yt, const std::string& xl,
                 const std::string& yl) {
  std::string s;
  s += "<rect x=\"" + num(f.L) + "\" y=\"" + num(f.T) + "\" width=\"" + num(f.W - f.L - f.R) + "\" height=\"" +
       num(f.H - f.T - f.B) + "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (double v : yt)
    s += "<line x1=\"" + num(f.L) + "\" x2=\"" + num(f.W - f.R) + "\" y1=\"" + num(f.ty(v)) + "\" y2=\"" + num(f.ty(v)) +
         "\" stroke=\"#eee\"/><text x=\"" + num(f.L - 4) + "\" y=\"" + num(f.ty(v) + 4) + "\" text-anchor=\"end\">" +
         tick(v) + "</text>\n";
  for (double v : xt)
    s += "<text x=\"" + num(f.tx(v)) + "\" y=\"" + num(f.H - f.B + 14) + "\" text-anchor=\"middle\">" + tick(v) + "</text>\n";
  s += "<text x=\"" + num((f.L + f.W - f.R) / 2) + "\" y=\"" + num(f.H - 10) + "\" text-anchor=\"middle\">" +
       html_escape(xl) + "</text>\n";
  s += "<text transform=\"translate(14," + num((f.T + f.H - f.B) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       html_escape(yl) + "</text>\n";
  return s;
}

std::string legend(const Frame& f, const std::vector<std::string>& names, const std::vector<std::string>& colors) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < 18; ++i) {
    const double y = f.T + 8 + 16 * static_cast<double>(i);
    // About 146 px of text fit right of the frame (11 px sans: ~22 characters); a longer name is cut at a UTF-8
    // character boundary and shown whole in the tooltip.
    std::string n = names[i];
    if (n.size() > 22) {
      size_t cut = 20;
      while (cut > 0 && (static_cast<unsigned char>(n[cut]) & 0xC0) == 0x80) --cut;
      n = n.substr(0, cut) + "…";
    }
    s += "<rect x=\"" + num(f.W - f.R + 10) + "\" y=\"" + num(y - 8) + "\" width=\"10\" height=\"10\" fill=\"" +
         colors[i] + "\"/><text x=\"" + num(f.W - f.R + 24) + "\" y=\"" + num(y + 1) + "\"><title>" +
         html_escape(names[i]) + "</title>" + html_escape(n) + "</text>\n";
  }
  return s;
}

void bounds(const std::vector<SvgPointSeries>& series, double& x0, double& x1, double& y0, double& y1) {
  x0 = y0 = std::numeric_limits<double>::infinity();
  x1 = y1 = -std::numeric_limits<double>::infinity();
  for (const auto& s : series)
    for (const auto& p : s.points) {
      x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
}

size_t point_count(const std::vector<SvgPointSeries>& series) {
  size_t n = 0;
  for (const auto& s : series) n += s.points.size();
  return n;
}

// Said inside an empty plot's frame, so empty axes do not read as a drawing error.
std::string empty_note(const Frame& f, const std::string& text) {
  return "<text class=\"empty\" x=\"" + num((f.L + f.W - f.R) / 2) + "\" y=\"" + num((f.T + f.H - f.B) / 2) +
         "\" text-anchor=\"middle\" fill=\"#777\">" + html_escape(text) + "</text>\n";
}

std::string marker(const Frame& f, const SvgPoint& p, const std::string& color) {
  return "<circle cx=\"" + num(f.tx(p.x)) + "\" cy=\"" + num(f.ty(p.y)) + "\" r=\"3.5\" fill=\"" + color +
         "\"><title>" + html_escape(p.label) + "</title></circle>\n";
}

}  // namespace

std::string svg_line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<SvgPointSeries>& series, bool log_x) {
  Frame f;
  f.log_x = log_x;
  bounds(series, f.x0, f.x1, f.y0, f.y1);
  std::vector<double> xt;
  if (log_x) {
    if (f.x0 <= 0) f.x0 = 1;
    if (f.x1 <= f.x0) f.x1 = f.x0 * 2;
    for (const auto& s : series)
      for (const auto& p : s.points) xt.push_back(p.x);
    std::sort(xt.begin(), xt.end());
    xt.erase(std::unique(xt.begin(), xt.end()), xt.end());
  } else {
    xt = nice_ticks(f.x0, f.x1);
  }
  const auto yt = nice_ticks(f.y0, f.y1);
  std::string s = open_svg(f, title) + axes(f, xt, yt, x_label, y_label);
  std::vector<std::string> names, colors;
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string c = kPalette[i % 10];
    auto pts = series[i].points;
    std::sort(pts.begin(), pts.end(), [](const SvgPoint& a, const SvgPoint& b) { return a.x < b.x; });
    std::string path;
    for (const auto& p : pts) path += (path.empty() ? "M" : " L") + num(f.tx(p.x)) + " " + num(f.ty(p.y));
    s += "<g class=\"series\" data-name=\"" + html_escape(series[i].name) + "\"><path d=\"" + path +
         "\" fill=\"none\" stroke=\"" + c + "\" stroke-width=\"1.8\"/>\n";
    for (const auto& p : pts) s += marker(f, p, c);
    s += "</g>\n";
    names.push_back(series[i].name), colors.push_back(c);
  }
  if (!point_count(series)) s += empty_note(f, "nothing to plot: no results");
  return s + legend(f, names, colors) + "</svg>\n";
}

std::string svg_scatter_diagonal(const std::string& title, const std::string& x_label, const std::string& y_label,
                                 const std::vector<SvgPointSeries>& series) {
  Frame f;
  f.R = 170;
  double x0, x1, y0, y1;
  bounds(series, x0, x1, y0, y1);
  double lo = std::min(x0, y0), hi = std::max(x1, y1);
  const auto t = nice_ticks(lo, hi);
  f.x0 = f.y0 = lo, f.x1 = f.y1 = hi;
  std::string s = open_svg(f, title) + axes(f, t, t, x_label, y_label);
  s += "<line class=\"diagonal\" x1=\"" + num(f.tx(lo)) + "\" y1=\"" + num(f.ty(lo)) + "\" x2=\"" + num(f.tx(hi)) +
       "\" y2=\"" + num(f.ty(hi)) + "\" stroke=\"#444\" stroke-dasharray=\"4 3\"><title>y = x</title></line>\n";
  std::vector<std::string> names, colors;
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string c = kPalette[i % 10];
    s += "<g class=\"series\" data-name=\"" + html_escape(series[i].name) + "\">\n";
    for (const auto& p : series[i].points) s += marker(f, p, c);
    s += "</g>\n";
    names.push_back(series[i].name), colors.push_back(c);
  }
  if (!point_count(series)) s += empty_note(f, "nothing to plot: no paper values");
  return s + legend(f, names, colors) + "</svg>\n";
}

std::string svg_stacked_bars(const std::string& title, const std::vector<std::string>& categories,
                             const std::vector<SvgStack>& stacks) {
  Frame f;
  f.L = 190, f.R = 120;
  f.H = std::max(140.0, 60 + 22.0 * static_cast<double>(categories.size()));
  double total_max = 1;
  for (size_t c = 0; c < categories.size(); ++c) {
    double t = 0;
    for (const auto& st : stacks) t += c < st.values.size() ? st.values[c] : 0;
    total_max = std::max(total_max, t);
  }
  f.x0 = 0, f.x1 = total_max;
  auto xt = nice_ticks(f.x0, f.x1);
  std::string s = open_svg(f, title);
  const double band = (f.H - f.T - f.B) / std::max<double>(1, static_cast<double>(categories.size()));
  for (double v : xt)
    s += "<text x=\"" + num(f.tx(v)) + "\" y=\"" + num(f.H - f.B + 14) + "\" text-anchor=\"middle\">" + tick(v) + "</text>\n";
  for (size_t c = 0; c < categories.size(); ++c) {
    const double y = f.T + band * static_cast<double>(c);
    std::string n = categories[c].size() > 30 ? categories[c].substr(0, 29) + "…" : categories[c];
    s += "<text x=\"" + num(f.L - 6) + "\" y=\"" + num(y + band / 2 + 4) + "\" text-anchor=\"end\">" + html_escape(n) +
         "</text>\n";
    double acc = 0;
    for (const auto& st : stacks) {
      const double v = c < st.values.size() ? st.values[c] : 0;
      if (v <= 0) continue;
      s += "<rect class=\"bar\" x=\"" + num(f.tx(acc)) + "\" y=\"" + num(y + 2) + "\" width=\"" +
           num(f.tx(acc + v) - f.tx(acc)) + "\" height=\"" + num(std::max(2.0, band - 4)) + "\" fill=\"" + st.color +
           "\"><title>" + html_escape(categories[c] + ": " + st.name + " " + tick(v)) + "</title></rect>\n";
      acc += v;
    }
  }
  std::vector<std::string> names, colors;
  for (const auto& st : stacks) names.push_back(st.name), colors.push_back(st.color);
  return s + legend(f, names, colors) + "</svg>\n";
}

}  // namespace ddb
