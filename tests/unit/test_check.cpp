#include <gtest/gtest.h>

#include "harness/check.h"
#include "harness/suite.h"
#include "test_helpers.h"

using namespace ddb;

namespace {

struct Fixture {
  Suite suite;
  Cell cell;
  std::filesystem::path dir = ddb::testing_support::temp_dir("check");
  Store store{dir.string()};

  PlannedCell planned(const std::string& metric = "accuracy") {
    PlannedCell pc;
    pc.suite = &suite;
    pc.cell = &cell;
    RunConfig rc;
    rc.config = {{"method", "random"}};
    rc.hash = "h-" + metric;
    rc.seeds = 2;
    rc.metric = metric;
    pc.run = rc;
    return pc;
  }
  void add(const std::string& hash, int seed, const std::string& metric, std::vector<double> values) {
    RunRecord r;
    r.job_key = hash + "/s" + std::to_string(seed);
    r.config_hash = hash;
    r.config = json::object();
    r.seed_index = seed;
    std::vector<MetricRow> rows;
    for (size_t i = 0; i < values.size(); ++i) rows.push_back({static_cast<int>(i), metric, values[i]});
    store.finish(r, rows);
  }
};

}  // namespace

TEST(Check, MeanStdIsPopulation) {
  auto [m, s] = mean_std({1.0, 3.0});
  EXPECT_DOUBLE_EQ(m, 2.0);
  EXPECT_DOUBLE_EQ(s, 1.0);  // ddof 0, like np.std
}

TEST(Check, PassAboveFailWithBandMaxOfFloorAndKStd) {
  Fixture f;
  f.suite.band = {2.0, 1.0};
  f.cell.paper.value = 80.0;
  f.cell.paper.std = 1.5;  // band = max(1, 2 * 1.5) = 3
  f.add("h-accuracy", 0, "accuracy", {77.5});
  f.add("h-accuracy", 1, "accuracy", {78.5});
  CellResult r = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(r.status, Status::Pass);
  EXPECT_DOUBLE_EQ(*r.band, 3.0);
  EXPECT_DOUBLE_EQ(*r.delta, -2.0);
  EXPECT_EQ(r.n, 2);
  f.cell.paper.value = 82.0;  // delta -4 > band: fail
  EXPECT_EQ(check_cell(f.planned(), f.store, "paper").status, Status::Fail);
  f.cell.paper.value = 70.0;  // ours better by 8: above, not a failure
  EXPECT_EQ(check_cell(f.planned(), f.store, "paper").status, Status::Above);
  EXPECT_FALSE(status_info(Status::Above).is_failure);
}

TEST(Check, LowerIsBetterMetricsFlipDirection) {
  Fixture f;
  f.cell.paper.value = 50.0;  // fpr95: lower is better
  f.cell.paper.std = 0.0;
  f.add("h-fpr95", 0, "fpr95", {40.0});
  f.add("h-fpr95", 1, "fpr95", {40.0});
  EXPECT_EQ(check_cell(f.planned("fpr95"), f.store, "paper").status, Status::Above);
}

TEST(Check, XfailAndXpass) {
  Fixture f;
  f.cell.paper.value = 90.0;
  f.cell.xfail = "reference code diverges from the paper";
  f.add("h-accuracy", 0, "accuracy", {70.0});
  EXPECT_EQ(check_cell(f.planned(), f.store, "paper").status, Status::XFail);
  f.cell.paper.value = 70.0;
  const CellResult r = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(r.status, Status::XPass);
  EXPECT_TRUE(status_info(r.status).is_failure);
}

TEST(Check, CpuTierUsesCommittedReferenceOrSaysUnchecked) {
  Fixture f;
  f.cell.paper.value = 90.0;
  f.add("h-accuracy", 0, "accuracy", {70.0});
  EXPECT_EQ(check_cell(f.planned(), f.store, "cpu").status, Status::Unchecked);
  f.cell.reference["cpu"] = {70.5, 0.2, 3, "test"};
  const CellResult r = check_cell(f.planned(), f.store, "cpu");
  EXPECT_EQ(r.status, Status::Pass);
  EXPECT_EQ(r.expected_source, "reference:cpu");
}

TEST(Check, FailedRunsAndMissingResults) {
  Fixture f;
  f.cell.paper.value = 90.0;
  EXPECT_EQ(check_cell(f.planned(), f.store, "paper").status, Status::NotRun);
  RunRecord r;
  r.job_key = "h-accuracy/s0";
  r.config_hash = "h-accuracy";
  r.config = json::object();
  r.error = "matching loss became nan at iteration 3";
  f.store.fail(r);
  const CellResult c = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(c.status, Status::RunFailed);
  EXPECT_NE(c.reason.find("nan"), std::string::npos);
}
