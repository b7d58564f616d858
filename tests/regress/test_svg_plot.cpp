// ddbench: torch-free
// The SVG plots of `ddbench regress` (harness/report/svg_plot.h): well-formed XML (a small checker here, and
// python3's xml.etree when /usr/bin/python3 exists), values drawn monotonically (higher value, higher dot),
// the band where it belongs, and every string escaped.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "harness/regress.h"
#include "harness/report/reporter.h"
#include "harness/report/svg_plot.h"
#include "../unit/test_helpers.h"

namespace fs = std::filesystem;

namespace {

// A small XML well-formedness check: one root element, tags balanced and properly nested, attributes
// name="value" without a raw '<', and every '&' in text or values starting a known entity or a
// character reference. Returns "" when well formed, else what is wrong.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> stack;
  int roots = 0;
  auto entity_ok = [&](size_t at) {
    static const std::regex ent("^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
    return std::regex_search(doc.begin() + static_cast<long>(at), doc.end(), ent);
  };
  size_t i = 0;
  if (doc.rfind("<?xml", 0) == 0) i = doc.find("?>") + 2;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      if (!entity_ok(i)) return "bad entity at " + std::to_string(i);
      ++i;
      continue;
    }
    if (doc[i] == '>') return "raw '>' in text at " + std::to_string(i);  // legal XML, but we never emit it
    if (doc[i] != '<') {
      if (stack.empty() && !std::isspace(static_cast<unsigned char>(doc[i]))) return "text outside the root";
      ++i;
      continue;
    }
    const bool closing = i + 1 < doc.size() && doc[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    size_t k = j;
    while (k < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[k])) || doc[k] == '-' || doc[k] == ':')) ++k;
    const std::string name = doc.substr(j, k - j);
    if (name.empty()) return "tag without a name at " + std::to_string(i);
    if (closing) {
      if (stack.empty() || stack.back() != name) return "</" + name + "> does not close the open element";
      stack.pop_back();
      if (doc[k] != '>') return "junk in </" + name + ">";
      i = k + 1;
      continue;
    }
    // Attributes.
    for (;;) {
      while (k < doc.size() && std::isspace(static_cast<unsigned char>(doc[k]))) ++k;
      if (k >= doc.size()) return "unterminated <" + name;
      if (doc[k] == '>' || doc.compare(k, 2, "/>") == 0) break;
      size_t a = k;
      while (k < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[k])) || doc[k] == '-' || doc[k] == ':')) ++k;
      if (a == k || doc[k] != '=' || doc[k + 1] != '"') return "bad attribute in <" + name + "> at " + std::to_string(a);
      k += 2;
      while (k < doc.size() && doc[k] != '"') {
        if (doc[k] == '<') return "raw '<' in an attribute of <" + name + ">";
        if (doc[k] == '&' && !entity_ok(k)) return "bad entity in an attribute of <" + name + ">";
        ++k;
      }
      ++k;
    }
    if (stack.empty()) ++roots;
    if (doc[k] == '>') {
      stack.push_back(name);
      i = k + 1;
    } else {
      i = k + 2;
    }
  }
  if (!stack.empty()) return "<" + stack.back() + "> not closed";
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

struct Drawn {
  double value, y;
};
std::vector<Drawn> drawn(const std::string& svg, const std::string& element_class, const std::string& y_attr) {
  const std::regex re("class=\"" + element_class + "\"[^>]*?data-value=\"([^\"]+)\"[^>]*? " + y_attr + "=\"([^\"]+)\"");
  std::vector<Drawn> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2])});
  return out;
}

ddb::SvgPlot sample() {
  ddb::SvgPlot p;
  p.title = "suite / cell";
  p.subtitle = "Random, IPC 2";
  p.y_label = "accuracy";
  p.series.push_back({"baseline", {63.2, 61.4, 62.9, 60.1}, 61.9, 1.2, "#4c72b0"});
  p.series.push_back({"candidate", {31.0, 35.5, 28.7}, 31.7, 2.8, "#c44e52"});
  p.band = ddb::SvgBand{59.5, 64.3, "band: baseline mean ± 2.40"};
  return p;
}

}  // namespace

TEST(SvgPlot, IsWellFormedAndSelfContained) {
  const std::string svg = ddb::render_svg_plot(sample());
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.find("http://", svg.find("xmlns") + 40), std::string::npos) << "no external references";
  EXPECT_EQ(svg.find("@import"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("font-family=\"sans-serif\""), std::string::npos);
  // The checker itself catches what it should.
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg a=\"x<y\"/>"), "");
  EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
  EXPECT_NE(xml_problem("<svg/><svg/>"), "");
}

TEST(SvgPlot, HigherValuesAreDrawnHigherAndTheBandSitsBetweenItsEnds) {
  const std::string svg = ddb::render_svg_plot(sample());
  auto dots = drawn(svg, "run", "cy");
  ASSERT_EQ(dots.size(), 7u) << svg;
  std::sort(dots.begin(), dots.end(), [](const Drawn& a, const Drawn& b) { return a.value < b.value; });
  for (size_t i = 1; i < dots.size(); ++i) EXPECT_LT(dots[i].y, dots[i - 1].y) << dots[i].value;
  const auto means = drawn(svg, "mean", "y1");
  ASSERT_EQ(means.size(), 2u);
  EXPECT_LT(means[0].y, means[1].y);  // baseline mean 61.9 above candidate mean 31.7
  // Each mean lies between its dots' extremes; the band rectangle covers the baseline mean.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("class=\"band\"[^>]*? y=\"([^\"]+)\"[^>]*? height=\"([^\"]+)\"")));
  const double top = std::stod(m[1]), bottom = top + std::stod(m[2]);
  EXPECT_LT(top, means[0].y);
  EXPECT_GT(bottom, means[0].y);
  EXPECT_LT(bottom, means[1].y) << "the candidate mean is below the band";
  // Dots of one series stay in their column: baseline left of candidate.
  const std::regex cx("class=\"run\" data-value=\"([^\"]+)\" cx=\"([^\"]+)\"");
  double max_base = -1, min_cand = 1e9;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), cx); it != std::sregex_iterator(); ++it) {
    const double v = std::stod((*it)[1]), x = std::stod((*it)[2]);
    if (v > 50) max_base = std::max(max_base, x);
    else min_cand = std::min(min_cand, x);
  }
  EXPECT_LT(max_base, min_cand);
}

TEST(SvgPlot, EveryStringIsEscaped) {
  ddb::SvgPlot p = sample();
  p.title = "a<b & \"c\" 'd'";
  p.subtitle = "</svg><script>alert(1)</script>";
  p.y_label = "x & y";
  p.series[0].label = "<base>";
  p.series[0].color = "red\" onload=\"x";
  p.band->label = "band & <more>";
  const std::string svg = ddb::render_svg_plot(p);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_NE(svg.find("a&lt;b &amp; &quot;c&quot; &#39;d&#39;"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  EXPECT_EQ(svg.find("onload=\""), std::string::npos);
  EXPECT_NE(svg.find("&lt;base&gt;"), std::string::npos);
  // The one escaper of the pages and the SVG files (reporter.h): no XML-forbidden control characters.
  EXPECT_EQ(ddb::html_escape(std::string("a\x01z<&\"'\t", 8)), "az&lt;&amp;&quot;&#39;\t");
}

TEST(SvgPlot, DegenerateInputsStayWellFormed) {
  ddb::SvgPlot flat;
  flat.title = "flat";
  flat.series.push_back({"one", {5, 5, 5}, 5.0, 0.0, "#000"});
  flat.series.push_back({"empty", {}, std::nullopt, std::nullopt, "#000"});
  flat.series.push_back({"non-finite", {std::nan(""), 1e300 * 1e10}, std::nullopt, std::nullopt, "#000"});
  std::string svg = ddb::render_svg_plot(flat);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(drawn(svg, "run", "cy").size(), 3u);
  for (const char* bad : {"=\"nan", "=\"-nan", "=\"inf", "=\"-inf"}) EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
  svg = ddb::render_svg_plot(ddb::SvgPlot{});
  EXPECT_EQ(xml_problem(svg), "") << svg;
}

TEST(SvgPlot, ARegressRowPlotsBothSidesAndTheBandAndPythonParsesIt) {
  ddb::Suite suite;
  suite.id = "s.x";
  ddb::Cell cell;
  cell.id = "r&2";
  ddb::RegressRow row;
  row.suite = &suite;
  row.cell = &cell;
  row.setting = "Random <IPC 2>";
  row.metric_row = "accuracy";
  row.baseline.mean = 62.3;
  row.baseline.std = 0.9;
  row.baseline.n = 2;
  row.baseline.runs = {63.2, 61.4};
  row.candidate.mean = 30.0;
  row.candidate.std = 1.0;
  row.candidate.n = 2;
  row.candidate.runs = {29.0, 31.0};
  row.diff = -32.3;
  row.band = 6.0;
  row.verdict = ddb::RegressVerdict::Regressed;
  const std::string svg = ddb::regress_row_svg(row);
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(drawn(svg, "run", "cy").size(), 4u);
  EXPECT_NE(svg.find("data-lo=\"56.3\" data-hi=\"68.3\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("s.x / r&amp;2: regressed"), std::string::npos);
  EXPECT_NE(svg.find("Random &lt;IPC 2&gt;"), std::string::npos);

  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3: xml.etree check skipped (the C++ check ran)";
  const fs::path dir = ddb::testing_support::temp_dir("svg");
  const std::string file = ddb::testing_support::write_file(dir / "row.svg", svg);
  ddb::SvgPlot hostile = sample();
  hostile.title = "a<b & \"c\"";
  const std::string file2 = ddb::testing_support::write_file(dir / "hostile.svg", ddb::render_svg_plot(hostile));
  const std::string cmd = "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; "
                          "[E.parse(f) for f in sys.argv[1:]]; "
                          "t = E.parse(sys.argv[2]).getroot().find('{http://www.w3.org/2000/svg}title').text; "
                          "assert t == 'a<b & \\\"c\\\"', t\" " + file + " " + file2 + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}
