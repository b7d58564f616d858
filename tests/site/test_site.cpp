// The HTML leaderboard site (`ddbench report --format html`, harness/report/html_site.h) for a tiny
// store: a toy28 suite run through `ddbench run` plus a submitted row with a hostile method name written
// into the store. Checks the pages, the escaping (HTML and Markdown), that every link resolves, the PNG
// grids' signature and size, and, where Debian's `chromium` is installed, the DOM in a real browser.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "ddbench_config.h"
#include "harness/store.h"
#include "../unit/test_helpers.h"
#include "../support/command.h"

namespace fs = std::filesystem;
using ddb::testing_support::temp_dir;
using ddb::testing_support::write_file;

namespace {

using Result = ddb::testing_support::CommandResult;
using ddb::testing_support::ddbench;
const auto& sh = ddb::testing_support::shell;

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

const std::string kHostile = "<script>alert(1)</script> | a & b";

// A toy28 suite: two cells that run, one quoted from the paper only (a planned protocol: unimplemented),
// and hostile strings in the title and a setting.
const char* kSuite = R"(id: t.site
title: "<script>alert(2)</script> toy | table & more"
source: {paper: demo, table: T1}
defaults:
  dataset: toy28
  distill_net: ConvNetW32
  eval: {protocol: dc, net: ConvNetW32, epochs: 2, runs: 2}
  seeds: 1
  metric: accuracy
tiers:
  cpu: {}
cells:
  - {id: r1, method: random, ipc: 1, setting: "random | <b>one</b> & co", paper: {unavailable: "toy"}}
  - {id: r2, method: random, ipc: 2, paper: {unavailable: "toy"}}
  - {id: q2, method: dc, ipc: 2, eval: {protocol: transfer_finetune}, paper: {value: 55.5}}
)";

struct Site {
  fs::path dir, store, suite, site;
  Result report, markdown;
};

// Built once for the tests below (a run takes a few seconds).
const Site& site() {
  static Site s = [] {
    Site s;
    s.dir = temp_dir("site");
    s.suite = write_file(s.dir / "toy.yaml", kSuite);
    s.store = s.dir / "res";
    const Result run = ddbench("run " + s.suite.string() + " --results " + s.store.string() + " --no-report --tier cpu --threads 1");
    EXPECT_EQ(run.code, 0) << run.output;
    {  // a submitted row, as ddbench submit stores one, with a hostile method name and the r2 set's file
      ddb::Store store(s.store.string());
      std::string synset;
      for (const auto& d : store.all_distillations())
        if (d.config.value("ipc", 0) == 2) synset = d.synset_path;
      ddb::DistillRecord d;
      d.key = "sub-hostile/s0";
      d.distill_hash = "sub-hostile";
      d.config = {{"method", kHostile}, {"options", {{"submitted", true}}}, {"dataset", "toy28"}, {"ipc", 2}};
      d.status = "done";
      d.synset_path = synset;
      d.provenance = {{"submitted", true}, {"submission", {{"method", kHostile}, {"authors", "<i>Mallory</i>"}}}};
      ddb::EvalRecord e;
      e.key = d.key + "/ev";
      e.distill_key = d.key;
      e.distill_hash = d.distill_hash;
      e.eval_hash = "ev";
      e.config = d.config;
      e.status = "done";
      e.provenance = {{"submitted", true}, {"git_commit", "abc123"}, {"protocol", "dc"}, {"protocol_version", "1"}};
      store.transaction([&] {
        store.put_distillation(d);
        store.put_evaluation(e, {{0, "accuracy", 99.0}, {1, "accuracy", 97.0}}, {});
      });
    }
    s.site = s.dir / "site";
    s.report = ddbench("report " + s.suite.string() + " --results " + s.store.string() + " --tier cpu --format html --out " +
                       s.site.string());
    s.markdown = ddbench("report " + s.suite.string() + " --results " + s.store.string() + " --tier cpu --format markdown");
    return s;
  }();
  return s;
}

// Every href="..." and src="..." of a page.
std::vector<std::string> links(const std::string& html) {
  std::vector<std::string> out;
  static const std::regex re(R"re((?:href|src)="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

// Width and height from a PNG's IHDR; false when the signature is wrong.
bool png_size(const fs::path& p, uint32_t& w, uint32_t& h) {
  const std::string b = read(p);
  if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || b.compare(12, 4, "IHDR") != 0) return false;
  auto be = [&](size_t o) {
    return (uint32_t(uint8_t(b[o])) << 24) | (uint32_t(uint8_t(b[o + 1])) << 16) | (uint32_t(uint8_t(b[o + 2])) << 8) |
           uint32_t(uint8_t(b[o + 3]));
  };
  w = be(16), h = be(20);
  return true;
}

}  // namespace

TEST(Site, IndexHasTheRowsKindsAndPlots) {
  const Site& s = site();
  ASSERT_EQ(s.report.code, 0) << s.report.output;
  ASSERT_TRUE(fs::exists(s.site / "index.html")) << s.report.output;
  const std::string index = read(s.site / "index.html");
  EXPECT_NE(index.find("toy28, IPC 1"), std::string::npos);
  EXPECT_NE(index.find("toy28, IPC 2"), std::string::npos);
  // IPC 2: the submitted row (99/97) ranks first, then r2 (in-tree), then q2 (quoted-only: paper 55.50).
  const auto ipc2 = index.find("toy28, IPC 2");
  const auto sub = index.find("data-kind=\"submitted\"", ipc2), tree = index.find("data-kind=\"in-tree\"", ipc2),
             quoted = index.find("data-kind=\"quoted-only\"", ipc2);
  ASSERT_NE(sub, std::string::npos);
  ASSERT_NE(tree, std::string::npos);
  ASSERT_NE(quoted, std::string::npos);
  EXPECT_LT(sub, tree);
  EXPECT_LT(tree, quoted);
  EXPECT_NE(index.find("98.00 ± 1.00"), std::string::npos);
  EXPECT_NE(index.find("55.50"), std::string::npos);
  EXPECT_NE(index.find("<svg"), std::string::npos);
  EXPECT_NE(index.find("class=\"diagonal\""), std::string::npos);
  EXPECT_NE(index.find("accuracy vs IPC: toy28"), std::string::npos);
  EXPECT_TRUE(fs::exists(s.site / "rows.html"));
  // The suite page lists every cell with its status and reason.
  std::string page;
  for (const auto& e : fs::directory_iterator(s.site))
    if (e.path().filename().string().rfind("suite-", 0) == 0) page = read(e.path());
  ASSERT_FALSE(page.empty());
  EXPECT_NE(page.find("v-unimplemented"), std::string::npos);
  EXPECT_NE(page.find("transfer_finetune"), std::string::npos);  // the reason names the planned protocol
  EXPECT_NE(page.find(">r1<"), std::string::npos);
}

TEST(Site, HostileStringsRenderAsText) {
  const Site& s = site();
  ASSERT_EQ(s.report.code, 0) << s.report.output;
  for (const auto& e : fs::recursive_directory_iterator(s.site)) {
    if (e.path().extension() != ".html" && e.path().extension() != ".svg") continue;
    const std::string t = read(e.path());
    EXPECT_EQ(t.find("<script>alert"), std::string::npos) << e.path();
    EXPECT_EQ(t.find("<b>one</b>"), std::string::npos) << e.path();
    EXPECT_EQ(t.find("<i>Mallory"), std::string::npos) << e.path();
    // One script per page: the site's own sorter.
    size_t scripts = 0;
    for (size_t at = t.find("<script"); at != std::string::npos; at = t.find("<script", at + 1)) ++scripts;
    EXPECT_LE(scripts, 1u) << e.path();
  }
  const std::string index = read(s.site / "index.html");
  EXPECT_NE(index.find("&lt;script&gt;alert(1)&lt;/script&gt; | a &amp; b"), std::string::npos);
  // Markdown: the hostile setting and title stay inside their cell and render as text.
  ASSERT_EQ(s.markdown.code, 0) << s.markdown.output;
  EXPECT_EQ(s.markdown.output.find("<script>"), std::string::npos) << s.markdown.output;
  EXPECT_NE(s.markdown.output.find("random \\| &lt;b&gt;one&lt;/b&gt; &amp; co"), std::string::npos) << s.markdown.output;
  // The submitted row is on the Markdown leaderboard too (one leaderboard across suites and submissions).
  EXPECT_NE(s.markdown.output.find("## Submitted sets"), std::string::npos) << s.markdown.output;
  EXPECT_NE(s.markdown.output.find("| &lt;script&gt;alert(1)&lt;/script&gt; \\| a &amp; b | submitted | toy28 | 2 | "
                                   "98.00 ± 1.00 (2) |"),
            std::string::npos)
      << s.markdown.output;
  for (std::istringstream lines(s.markdown.output); !lines.eof();) {
    std::string line;
    std::getline(lines, line);
    if (line.rfind("| r1 ", 0) != 0) continue;
    size_t bars = 0;  // unescaped | : the table's 11 separators, whatever the cells hold
    for (size_t i = 0; i < line.size(); ++i) bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(bars, 11u) << line;
  }
}

TEST(Site, LinksResolveAndNothingIsExternal) {
  const Site& s = site();
  ASSERT_EQ(s.report.code, 0) << s.report.output;
  int checked = 0;
  for (const auto& e : fs::directory_iterator(s.site)) {
    if (e.path().extension() != ".html") continue;
    const std::string t = read(e.path());
    EXPECT_EQ(t.find("src=\"http"), std::string::npos) << e.path();
    EXPECT_EQ(t.find("href=\"http"), std::string::npos) << e.path();
    EXPECT_EQ(t.find("<link"), std::string::npos) << e.path();
    for (const std::string& l : links(t)) {
      const auto hash = l.find('#');
      const std::string file = l.substr(0, hash), anchor = hash == std::string::npos ? "" : l.substr(hash + 1);
      const fs::path target = file.empty() ? e.path() : s.site / file;
      ASSERT_TRUE(fs::exists(target)) << l << " in " << e.path();
      if (!anchor.empty()) EXPECT_NE(read(target).find("id=\"" + anchor + "\""), std::string::npos) << l << " in " << e.path();
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(Site, ImageGridsArePngsOfTheRightSize) {
  const Site& s = site();
  ASSERT_EQ(s.report.code, 0) << s.report.output;
  ASSERT_TRUE(fs::exists(s.site / "grids"));
  std::set<std::pair<uint32_t, uint32_t>> sizes;
  for (const auto& e : fs::directory_iterator(s.site / "grids")) {
    uint32_t w = 0, h = 0;
    ASSERT_TRUE(png_size(e.path(), w, h)) << e.path();
    sizes.insert({w, h});
  }
  // toy28: 10 classes (rows) of 28x28, 2 px apart; IPC 1 -> 1 column, IPC 2 -> 2.
  EXPECT_TRUE(sizes.count({1 * 28 + 2 * 2, 10 * 28 + 11 * 2})) << sizes.size();
  EXPECT_TRUE(sizes.count({2 * 28 + 3 * 2, 10 * 28 + 11 * 2})) << sizes.size();
  EXPECT_NE(read(s.site / "rows.html").find("de-normalised with the dataset&#39;s mean/std"), std::string::npos);
}

TEST(Site, HtmlNeedsAnOutputFolder) {
  const Site& s = site();
  const Result r = ddbench("report " + s.suite.string() + " --results " + s.store.string() + " --tier cpu --format html");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--out DIR"), std::string::npos) << r.output;
}

// CSV and JSON carry the submitted row as well, marked submitted.
TEST(Site, CsvAndJsonListTheSubmittedRow) {
  const Site& s = site();
  const std::string args = "report " + s.suite.string() + " --results " + s.store.string() + " --tier cpu --format ";
  const Result csv = ddbench(args + "csv");
  ASSERT_EQ(csv.code, 0) << csv.output;
  EXPECT_NE(csv.output.find("\nsubmission,sub-hostile,"), std::string::npos) << csv.output;
  EXPECT_NE(csv.output.find(",toy28,2,accuracy,,,,,,,98.0000,1.0000,2,,0,,,,,submitted,,,sub-hostile.ev"), std::string::npos)
      << csv.output;
  const Result js = ddbench(args + "json");
  ASSERT_EQ(js.code, 0) << js.output;
  const auto doc = ddb::json::parse(js.output.substr(js.output.find('{')));
  ASSERT_EQ(doc["submitted"].size(), 1u) << js.output;
  EXPECT_EQ(doc["submitted"][0]["kind"], "submitted");
  EXPECT_EQ(doc["submitted"][0]["method"], kHostile);
  EXPECT_EQ(doc["submitted"][0]["ours"]["n"], 2);
}

// The formats `ddbench list formats` prints are the ones `report --format` takes: one registry, html included.
TEST(Site, ListFormatsNamesEveryReportFormat) {
  const Result list = ddbench("list formats");
  ASSERT_EQ(list.code, 0) << list.output;
  for (const char* f : {"markdown  ", "csv  ", "json  ", "html  "})
    EXPECT_NE(("\n" + list.output).find(std::string("\n") + f), std::string::npos) << f << list.output;
  const Result help = ddbench("report --help");
  EXPECT_NE(help.output.find("html (a static site"), std::string::npos) << help.output;
  const Result bad = ddbench("report x.yaml --format htm --out /nonexistent");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("unknown report format 'htm'; registered report formats: csv, html, json, markdown"),
            std::string::npos)
      << bad.output;
}

// A real browser: Debian's chromium, headless. Loads index.html?sort=method (the page's script sorts every
// table with a `method` header), dumps the DOM and takes a screenshot.
TEST(Site, HeadlessChromiumSeesRowsPlotsAndSorts) {
  std::string browser;
  for (const char* b : {"chromium", "chromium-browser"})
    if (sh(std::string("command -v ") + b).code == 0) browser = b;
  if (browser.empty()) GTEST_SKIP() << "chromium is not installed (Debian package `chromium`): browser check skipped";
  const Site& s = site();
  ASSERT_EQ(s.report.code, 0) << s.report.output;
  const std::string url = "file://" + fs::absolute(s.site / "index.html").string();
  const std::string flags = " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
                            "--user-data-dir=" + (s.dir / "chromium-profile").string();
  const Result dom = sh("timeout 60 " + browser + flags + " --dump-dom '" + url + "?sort=method:desc'");
  ASSERT_EQ(dom.code, 0) << dom.output.substr(0, 2000);
  const std::string& d = dom.output;
  EXPECT_NE(d.find("data-sort-applied=\"method:desc\""), std::string::npos) << "the page's script did not run";
  EXPECT_NE(d.find("data-sorted=\"method:desc\""), std::string::npos);
  EXPECT_NE(d.find("<svg"), std::string::npos);
  EXPECT_NE(d.find("class=\"row\""), std::string::npos);
  EXPECT_EQ(d.find("<script>alert"), std::string::npos);
  // IPC 2 sorted by method, descending: "random" before "<script>..." (escaped in the DOM dump).
  const auto ipc2 = d.find("toy28, IPC 2");
  ASSERT_NE(ipc2, std::string::npos);
  const auto random = d.find("class=\"method\">random<", ipc2), hostile = d.find("class=\"method\">&lt;script&gt;", ipc2);
  ASSERT_NE(random, std::string::npos) << d.substr(ipc2, 3000);
  ASSERT_NE(hostile, std::string::npos) << d.substr(ipc2, 3000);
  EXPECT_LT(random, hostile) << "not sorted by method, descending";
  // Unsorted, the ranking puts the submitted row (98%) first.
  const Result plain = sh("timeout 60 " + browser + flags + " --dump-dom '" + url + "'");
  ASSERT_EQ(plain.code, 0);
  const auto p2 = plain.output.find("toy28, IPC 2");
  EXPECT_LT(plain.output.find("class=\"method\">&lt;script&gt;", p2), plain.output.find("class=\"method\">random<", p2));
  const fs::path shot = s.dir / "screenshot.png";
  const Result ss = sh("timeout 60 " + browser + flags + " --window-size=1280,2400 --screenshot=" + shot.string() + " '" + url + "'");
  ASSERT_EQ(ss.code, 0) << ss.output.substr(0, 2000);
  uint32_t w = 0, h = 0;
  ASSERT_TRUE(png_size(shot, w, h));
  EXPECT_EQ(w, 1280u);
  if (const char* keep = std::getenv("DDBENCH_KEEP_SCREENSHOT")) fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
}
