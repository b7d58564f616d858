// ddbench: torch-free
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "harness/regress.h"
#include "test_helpers.h"

using namespace ddb;
namespace fs = std::filesystem;

namespace {

// A suite of hand-made cells (no planning): cell i reads configuration ("h<i>", "e") over 3 seeds of one
// evaluation run each, so a store's values for it are written seed by seed.
struct Fixture {
  Suite suite;
  std::vector<PlannedCell> planned;
  fs::path dir = testing_support::temp_dir("regress");

  explicit Fixture(const std::vector<std::string>& ids, const std::string& metric = "accuracy") {
    suite.id = "demo.t1";
    suite.band = {2.0, 1.0};  // band = max(1, 2 * baseline std)
    suite.cells.reserve(ids.size());
    for (const auto& id : ids) {
      Cell c;
      c.id = id;
      c.setting = "setting " + id;
      c.spec = {{"metric", metric}};
      suite.cells.push_back(c);
    }
    for (size_t i = 0; i < suite.cells.size(); ++i) {
      PlannedCell pc;
      pc.suite = &suite;
      pc.cell = &suite.cells[i];
      RunConfig rc;
      rc.config = {{"method", "random"}, {"eval", {{"runs", 1}}}};
      rc.distill_hash = "h" + std::to_string(i);
      rc.eval_hash = "e";
      rc.hash = rc.distill_hash + "." + rc.eval_hash;
      rc.seeds = 3;
      rc.metric = metric;
      pc.run = rc;
      planned.push_back(pc);
    }
  }
  int index(const std::string& id) const {
    for (size_t i = 0; i < suite.cells.size(); ++i)
      if (suite.cells[i].id == id) return static_cast<int>(i);
    return -1;
  }
  // Seed s of cell `id` gets values[s] in the store `name`.
  void put(const std::string& name, const std::string& id, const std::vector<double>& values,
           const std::string& metric = "accuracy") {
    Store s((dir / name).string());
    for (size_t seed = 0; seed < values.size(); ++seed)
      s.finish(testing_support::eval_record("h" + std::to_string(index(id)), "e", static_cast<int>(seed)),
               {{0, metric, values[seed]}});
  }
  void fail(const std::string& name, const std::string& id, int seed) {
    Store s((dir / name).string());
    EvalRecord r = testing_support::eval_record("h" + std::to_string(index(id)), "e", seed);
    r.error = "CUDA out of memory";
    s.fail(r);
  }
  std::string store(const std::string& name) const { return (dir / name).string(); }
};

const RegressRow& row_of(const RegressReport& r, const std::string& id) {
  for (const auto& row : r.rows)
    if (row.cell->id == id) return row;
  throw std::runtime_error("no row " + id);
}

}  // namespace

TEST(Regress, DeliberateRegressionIsFlaggedAndRowsSortBySeverity) {
  Fixture f({"same", "damaged", "better", "gone", "added", "broken", "never"});
  f.put("base", "same", {80.1, 80.6, 79.8});
  f.put("cand", "same", {80.3, 79.9, 80.4});
  f.put("base", "damaged", {80.1, 80.6, 79.8});
  f.put("cand", "damaged", {72.2, 71.5, 72.9});  // a method damaged on purpose: 8 points down
  f.put("base", "better", {60.0, 60.5, 59.7});
  f.put("cand", "better", {66.0, 65.6, 66.3});
  f.put("base", "gone", {50.0, 51.0, 50.5});
  f.put("cand", "added", {40.0, 41.0, 40.5});
  f.put("base", "broken", {70.0, 70.2, 69.9});
  f.put("cand", "broken", {70.0, 70.2});
  f.fail("cand", "broken", 2);
  Store base(f.store("base")), cand(f.store("cand"));
  const RegressReport r = regress_cells(f.planned, &base, cand, "cpu", 0.01);
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(r.not_listed, 1);  // "never": no result on either side
  std::vector<std::string> order;
  for (const auto& row : r.rows) order.push_back(row.cell->id + ":" + regress_verdict_name(row.verdict));
  EXPECT_EQ(order, (std::vector<std::string>{"damaged:regressed", "broken:failed", "gone:missing", "added:new",
                                             "better:improved", "same:unchanged"}));
  const RegressRow& d = row_of(r, "damaged");
  EXPECT_EQ(d.baseline.n, 3);
  EXPECT_EQ(d.candidate.n, 3);
  EXPECT_NEAR(*d.diff, 72.2 - 80.1666666666667, 1e-9);
  ASSERT_TRUE(d.test);
  EXPECT_LT(d.test->p, 0.01);
  EXPECT_LT(d.test->t, 0);
  EXPECT_NE(row_of(r, "broken").reason.find("CUDA out of memory"), std::string::npos);
  EXPECT_EQ(r.count(RegressVerdict::Regressed), 1);

  std::ostringstream md;
  write_regress_markdown(r, md);
  EXPECT_NE(md.str().find("| **regressed** | demo.t1 | damaged |"), std::string::npos) << md.str();
  const json js = regress_json(r);
  EXPECT_EQ(js["counts"]["regressed"], 1);
  EXPECT_EQ(js["cells"][0]["cell"], "damaged");
  EXPECT_EQ(js["cells"][0]["verdict"], "regressed");
  EXPECT_EQ(js["cells"][0]["baseline"]["n"], 3);
  EXPECT_TRUE(js["cells"][0]["welch"]["p"].get<double>() < 0.01);
}

// Both conditions are needed: a significant shift inside the band, or a large one inside the noise, is not.
TEST(Regress, NeitherATinySignificantShiftNorANoisyLargeOneIsFlagged) {
  Fixture f({"tiny", "noisy"});
  f.put("base", "tiny", {80.00, 80.01, 80.02});
  f.put("cand", "tiny", {79.50, 79.51, 79.52});  // p ~ 1e-6, but 0.5 < band floor 1
  f.put("base", "noisy", {80.0, 80.2, 79.9});
  f.put("cand", "noisy", {60.0, 80.0, 70.0});  // 10 points down, beyond the band, but p ~ 0.2
  Store base(f.store("base")), cand(f.store("cand"));
  const RegressReport r = regress_cells(f.planned, &base, cand, "cpu", 0.01);
  const RegressRow& tiny = row_of(r, "tiny");
  EXPECT_EQ(tiny.verdict, RegressVerdict::Unchanged);
  EXPECT_LT(tiny.test->p, 0.01);
  EXPECT_NE(tiny.reason.find("within the band"), std::string::npos) << tiny.reason;
  const RegressRow& noisy = row_of(r, "noisy");
  EXPECT_EQ(noisy.verdict, RegressVerdict::Unchanged);
  EXPECT_GT(noisy.test->p, 0.01);
  EXPECT_NE(noisy.reason.find("noisy"), std::string::npos) << noisy.reason;
}

TEST(Regress, LowerIsBetterMetricsRegressUpwards) {
  Fixture f({"ood"}, "fpr95");
  f.put("base", "ood", {30.0, 30.5, 29.8}, "fpr95");
  f.put("cand", "ood", {40.0, 40.4, 39.9}, "fpr95");
  Store base(f.store("base")), cand(f.store("cand"));
  const RegressReport r = regress_cells(f.planned, &base, cand, "cpu", 0.01);
  EXPECT_FALSE(r.rows[0].higher_is_better);
  EXPECT_EQ(r.rows[0].verdict, RegressVerdict::Regressed);
}

// `--baseline references`: the committed raw per-run references at the tier, and the candidate's band verdict.
TEST(Regress, CommittedReferencesAreABaseline) {
  Fixture f({"kept", "dropped", "unreferenced"});
  f.suite.cells[0].reference["cpu"] = ReferenceValue{80.2, 0.3, 3, "test", {80.1, 80.6, 79.8}};
  f.suite.cells[1].reference["cpu"] = ReferenceValue{80.2, 0.3, 3, "test", {80.1, 80.6, 79.8}};
  f.put("cand", "kept", {80.3, 79.9, 80.4});
  f.put("cand", "dropped", {72.2, 71.5, 72.9});
  f.put("cand", "unreferenced", {50.0, 50.5, 51.0});
  Store cand(f.store("cand"));
  const RegressReport r = regress_cells(f.planned, nullptr, cand, "cpu", 0.01);
  EXPECT_EQ(r.baseline, "references (tier cpu)");
  EXPECT_EQ(row_of(r, "dropped").verdict, RegressVerdict::Regressed);
  EXPECT_EQ(row_of(r, "dropped").band_verdict, "fail");
  EXPECT_EQ(row_of(r, "dropped").baseline.n, 3);
  EXPECT_EQ(row_of(r, "kept").verdict, RegressVerdict::Unchanged);
  EXPECT_EQ(row_of(r, "kept").band_verdict, "pass");
  EXPECT_EQ(row_of(r, "unreferenced").verdict, RegressVerdict::New);
}

// Strings from a suite (a setting, or the method name a setting falls back to) reach the regress Markdown
// through the leaderboard's md_cell: `<script>` renders as text and a `|` stays inside its cell.
TEST(Regress, HostileSettingsAreEscapedInTheMarkdown) {
  const std::string hostile = "<script>alert(1)</script>|x";
  Fixture f({"named", "bymethod"});
  f.suite.cells[0].setting = hostile;
  f.suite.cells[1].setting = "";
  f.suite.cells[1].spec = {{"metric", "accuracy"}, {"method", hostile}, {"ipc", 1}, {"dataset", "toy28"}};
  for (const char* id : {"named", "bymethod"}) {
    f.put("base", id, {80.1, 80.6, 79.8});
    f.put("cand", id, {72.2, 71.5, 72.9});
  }
  Store base(f.store("base")), cand(f.store("cand"));
  RegressReport r = regress_cells(f.planned, &base, cand, "cpu", 0.01);
  std::ostringstream md;
  write_regress_markdown(r, md);
  const std::string text = md.str();
  EXPECT_EQ(text.find("<script>"), std::string::npos) << text;
  EXPECT_NE(text.find("| &lt;script&gt;alert(1)&lt;/script&gt;\\|x |"), std::string::npos) << text;
  EXPECT_NE(text.find("| &lt;script&gt;alert(1)&lt;/script&gt;\\|x, IPC 1, toy28 |"), std::string::npos) << text;
  for (std::istringstream lines(text); !lines.eof();) {
    std::string line;
    std::getline(lines, line);
    if (line.rfind("| **regressed** ", 0) != 0) continue;
    size_t bars = 0;  // unescaped | : the table's 15 separators, whatever the cells hold
    for (size_t i = 0; i < line.size(); ++i) bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(bars, 15u) << line;
  }
}

// Re-running unchanged code with new seeds: pairs of samples from one distribution. At alpha 0.01 the
// t-test alone flags about 1% of them (either direction), and with the band even fewer regress.
TEST(Regress, FalsePositiveRateOverRepeatedRunsIsConsistentWithAlpha) {
  std::mt19937_64 rng(20261130);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto normal = [&](double mean, double sd) {  // Box-Muller: the same draws on every standard library
    const double u1 = 1.0 - u(rng), u2 = u(rng);
    return mean + sd * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  };
  constexpr int kPairs = 200, kRuns = 5;
  int regressed_band = 0, regressed_test_only = 0, significant = 0;
  for (int i = 0; i < kPairs; ++i) {
    std::vector<double> a, b;
    for (int k = 0; k < kRuns; ++k) a.push_back(normal(80, 1.5));
    for (int k = 0; k < kRuns; ++k) b.push_back(normal(80, 1.5));
    auto side = [](const std::vector<double>& v) {
      RegressSide s;
      auto [m, sd] = mean_std(v);
      s.mean = m;
      s.std = sd;
      s.n = static_cast<int>(v.size());
      return s;
    };
    const Comparison with_band = compare_sides(side(a), side(b), true, Band{2.0, 1.0}, 0.01);
    const Comparison test_only = compare_sides(side(a), side(b), true, Band{0.0, 0.0}, 0.01);
    regressed_band += with_band.verdict == RegressVerdict::Regressed ? 1 : 0;
    regressed_test_only += test_only.verdict == RegressVerdict::Regressed ? 1 : 0;
    significant += test_only.test->p < 0.01 ? 1 : 0;
  }
  const double rate = static_cast<double>(regressed_band) / kPairs;
  std::cout << "false positives over " << kPairs << " pairs of " << kRuns << " runs: p < 0.01 in " << significant
            << ", regressed by the test alone " << regressed_test_only << ", regressed (test and band) "
            << regressed_band << " (" << 100 * rate << "%)\n";
  EXPECT_LT(rate, 0.03);
  EXPECT_LT(static_cast<double>(significant) / kPairs, 0.03);  // the test is calibrated: ~1% expected
  EXPECT_LE(regressed_band, regressed_test_only);
}
