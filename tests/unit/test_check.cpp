// ddbench: torch-free
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
    rc.distill_hash = "h";
    rc.eval_hash = "e-" + metric;
    rc.hash = rc.distill_hash + "." + rc.eval_hash;
    rc.seeds = 2;
    rc.metric = metric;
    pc.run = rc;
    return pc;
  }
  // `hash` is "h-<metric>": the evaluation "e-<metric>" of distillation "h".
  void add(const std::string& hash, int seed, const std::string& metric, std::vector<double> values) {
    const EvalRecord r = testing_support::eval_record("h", "e" + hash.substr(1), seed);
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
  f.add("h-accuracy", 1, "accuracy", {70.0});
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
  f.add("h-accuracy", 1, "accuracy", {70.0});
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
  EvalRecord r = testing_support::eval_record("h", "e-accuracy", 0);
  r.error = "matching loss became nan at iteration 3";
  f.store.fail(r);
  const CellResult c = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(c.status, Status::RunFailed);
  EXPECT_NE(c.reason.find("nan"), std::string::npos);
}

// Defect: check pooled the values of every stored seed of a configuration, not the cell's seeds.
TEST(Check, PoolsOnlyTheSeedsTheCellAsksFor) {
  Fixture f;
  f.cell.paper.value = 80.0;
  f.add("h-accuracy", 0, "accuracy", {80.0});
  f.add("h-accuracy", 1, "accuracy", {82.0});
  f.add("h-accuracy", 2, "accuracy", {20.0});  // a third seed run for another suite
  const CellResult r = check_cell(f.planned(), f.store, "paper");  // the cell asks for 2 seeds
  EXPECT_EQ(r.n, 2);
  EXPECT_DOUBLE_EQ(*r.mean, 81.0);
  EXPECT_EQ(r.status, Status::Pass);
}

// Defect: a diverged evaluation run was dropped from the mean; now it fails the cell, visibly.
TEST(Check, DivergedEvaluationRunFailsTheCellUnlessAllowed) {
  Fixture f;
  f.cell.paper.value = 80.0;
  f.add("h-accuracy", 0, "accuracy", {80.0});
  const EvalRecord r = testing_support::eval_record("h", "e-accuracy", 1);
  f.store.finish(r, {}, {{0, "training loss became nan at epoch 12"}});
  CellResult c = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(c.status, Status::RunFailed);
  EXPECT_EQ(c.n, 1);
  EXPECT_EQ(c.runs_failed, 1);
  EXPECT_NE(c.reason.find("n = 1 of 2, 1 diverged"), std::string::npos) << c.reason;
  EXPECT_DOUBLE_EQ(*c.mean, 80.0);  // still shown
  f.cell.allow_failed_runs = true;
  c = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(c.status, Status::Pass);
  EXPECT_NE(c.reason.find("1 diverged"), std::string::npos) << c.reason;
}

// Defect: check and report re-planned against the reader's machine; a store made on a GPU machine
// read on a laptop showed needs-gpu. What is stored is reported; gating only says why nothing is.
TEST(Check, StoredResultsAreReportedWhateverTheReadersMachine) {
  Fixture f;
  f.cell.paper.value = 80.0;
  PlannedCell pc = f.planned();
  pc.status = Status::NeedsGpu;  // as planned on a machine without a GPU
  pc.reason = "cell requires a GPU";
  EXPECT_EQ(check_cell(pc, f.store, "paper").status, Status::NeedsGpu);  // nothing stored: why not
  f.add("h-accuracy", 0, "accuracy", {79.0});
  f.add("h-accuracy", 1, "accuracy", {81.0});
  const CellResult r = check_cell(pc, f.store, "paper");
  EXPECT_EQ(r.status, Status::Pass);
  EXPECT_DOUBLE_EQ(*r.mean, 80.0);
}

TEST(Check, PartlyRunCellsGetNoVerdict) {
  Fixture f;
  f.cell.paper.value = 80.0;
  f.add("h-accuracy", 0, "accuracy", {80.0});
  const CellResult r = check_cell(f.planned(), f.store, "paper");
  EXPECT_EQ(r.status, Status::NotRun);
  EXPECT_NE(r.reason.find("1 seeds not run yet"), std::string::npos) << r.reason;
}
