// Derived metrics (accuracy_gain, accuracy_gain_delta, accuracy_drop_from, auroc_gain, fpr95_drop, recovery_ratio): a cell
// whose number comes from two runs, the cell's and the cell with its delta_from merged over it. Both are
// ordinary jobs (deduplicated with equal jobs of other cells); the check combines them.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/runner.h"
#include "harness/runtime.h"
#include "test_helpers.h"

using namespace ddb;

namespace {

// accuracy = auroc = number of synthetic images + the evaluation run's index (0, 1, ...), fpr95 = 100 minus
// that; a set of 30 images (ipc 3 on toy28) fails its evaluation.
class CountProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    const double n = static_cast<double>(ctx.set.images.size(0));
    if (n == 30) throw std::runtime_error("count: evaluation broke");
    const double r = ctx.phase.size() > 5 ? ctx.phase[5] - '1' : 0;  // "eval 2/2" -> 1
    EvalRunResult out;
    out.accuracy = n + r;
    out.values = {{"accuracy", n + r}, {"auroc", n + r}, {"fpr95", 100 - n - r}};
    return out;
  }
};
DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{"count", "1", "test-only protocol: counts the images", {"accuracy", "auroc", "fpr95"},
                                       [] { return std::make_unique<CountProtocol>(); }});

Suite derived_suite(const std::filesystem::path& dir) {
  return load_suite(ddb::testing_support::write_file(dir / "derived.yaml", R"(id: t.derived
source: {paper: demo}
defaults: {dataset: toy28, method: random, ipc: 1, distill_net: ConvNetW32, metric: accuracy, seeds: 2,
           eval: {protocol: count, net: ConvNetW32, runs: 2}, paper: {value: 0}}
tiers: {cpu: {}}
cells:
  - {id: plain-ipc2, ipc: 2, reference: {cpu: {value: 20.5, std: 0.5, n: 4}}}
  - {id: gain, metric: accuracy_gain, delta_from: {ipc: 2}, reference: {cpu: {value: -10, std: 0, n: 4}}}
  - {id: auroc-gain, metric: auroc_gain, delta_from: {ipc: 2}}
  - {id: fpr95-drop, metric: fpr95_drop, delta_from: {ipc: 2}}
  - {id: accuracy-drop-from, metric: accuracy_drop_from, delta_from: {ipc: 2}}
  - {id: ratio, metric: recovery_ratio, delta_from: {ipc: 2}}
  - {id: unpaired, metric: accuracy_gain, delta_from: {ipc: 2, seeds: 1}}
  - {id: broken-other, metric: accuracy_gain, delta_from: {ipc: 3}}
  - {id: no-second-run, metric: accuracy_gain}
  - {id: bad-delta, metric: accuracy_gain, delta_from: {options: {no_such_option: 1}}}
  - {id: delta-on-plain, metric: accuracy, delta_from: {ipc: 2}}
)"));
}

const PlannedCell& by_id(const std::vector<PlannedCell>& cells, const std::string& id) {
  for (const auto& c : cells)
    if (c.cell->id == id) return c;
  throw std::runtime_error("no cell " + id);
}
const CellResult& result_of(const std::vector<CellResult>& rs, const std::string& id) {
  for (const auto& r : rs)
    if (r.cell->id == id) return r;
  throw std::runtime_error("no cell " + id);
}

PlanEnv tier_cpu() {
  PlanEnv env;
  env.tier = "cpu";
  return env;
}

}  // namespace

TEST(DerivedMetrics, RegisteredWithTheirRules) {
  for (const char* m : {"accuracy_gain", "accuracy_gain_delta", "auroc_gain", "fpr95_drop", "recovery_ratio"}) {
    ASSERT_NE(find_derived_metric(m), nullptr) << m;
    EXPECT_EQ(find_metric(m)->kind, "derived");
    EXPECT_TRUE(find_metric(m)->higher_is_better) << m;
  }
  EXPECT_EQ(find_derived_metric("fpr95_drop")->sign, -1);
  // What a change costs: lower is better (IDM's "model sampling lowers DM by 1.1%").
  ASSERT_NE(find_derived_metric("accuracy_drop_from"), nullptr);
  EXPECT_EQ(find_derived_metric("accuracy_drop_from")->sign, -1);
  EXPECT_FALSE(find_metric("accuracy_drop_from")->higher_is_better);
  EXPECT_EQ(find_derived_metric("recovery_ratio")->rule, "ratio");
  EXPECT_EQ(find_derived_metric("accuracy"), nullptr);
}

TEST(DerivedMetrics, ApplyDeltaFromMergesAndANewMethodReplacesTheOptions) {
  const json spec = {{"method", "edf"}, {"options", {{"iterations", 10}, {"dae", true}}}, {"ipc", 10},
                     {"delta_from", {{"method", "full"}}}};
  const json full = apply_delta_from(spec, {{"method", "full"}, {"ipc", 0}});
  EXPECT_EQ(full["method"], "full");
  EXPECT_EQ(full["options"], json::object());
  EXPECT_EQ(full["ipc"], 0);
  EXPECT_FALSE(full.contains("delta_from"));
  const json off = apply_delta_from(spec, {{"options", {{"dae", false}}}});
  EXPECT_EQ(off["options"], (json{{"iterations", 10}, {"dae", false}}));
}

TEST(DerivedMetrics, PlanCreatesOperandJobsAndDeduplicatesThem) {
  const auto dir = ddb::testing_support::temp_dir("derived-plan");
  const Suite s = derived_suite(dir);
  const auto cells = plan_suite(s, tier_cpu());
  const PlannedCell& plain = by_id(cells, "plain-ipc2");
  const PlannedCell& gain = by_id(cells, "gain");
  ASSERT_TRUE(gain.runnable()) << gain.reason;
  ASSERT_TRUE(gain.derived);
  ASSERT_EQ(gain.derived->operands.size(), 2u);
  EXPECT_EQ(gain.derived->operands[0].role, "cell");
  EXPECT_EQ(gain.derived->operands[0].run.metric, "accuracy");
  EXPECT_EQ(gain.derived->operands[0].coef, 1);
  EXPECT_EQ(gain.derived->operands[1].coef, -1);
  // The second run is the plain ipc-2 cell's run: the same job.
  EXPECT_EQ(gain.derived->operands[1].run.hash, plain.run->hash);
  EXPECT_EQ(gain.run->hash, gain.derived->operands[0].run.hash);
  const PlannedCell& drop = by_id(cells, "fpr95-drop");
  ASSERT_TRUE(drop.derived);
  EXPECT_EQ(drop.derived->operands[0].run.metric, "fpr95");
  EXPECT_EQ(drop.derived->operands[0].coef, -1);  // fpr95(other) - fpr95(cell)
  EXPECT_EQ(drop.derived->operands[1].coef, 1);

  EXPECT_EQ(by_id(cells, "no-second-run").status, Status::Unimplemented);
  EXPECT_NE(by_id(cells, "no-second-run").reason.find("delta_from"), std::string::npos);
  EXPECT_EQ(by_id(cells, "bad-delta").status, Status::Invalid);
  EXPECT_NE(by_id(cells, "bad-delta").reason.find("delta_from run"), std::string::npos) << by_id(cells, "bad-delta").reason;
  EXPECT_NE(by_id(cells, "bad-delta").reason.find("no_such_option"), std::string::npos);
  EXPECT_EQ(by_id(cells, "delta-on-plain").status, Status::Invalid);

  // Jobs: ipc 1, ipc 2 (every derived cell shares them), ipc 3, 2 seeds each: 6, none twice.
  const auto jobs = jobs_for(cells);
  EXPECT_EQ(jobs.size(), 6u);
}

TEST(DerivedMetrics, CommittedRddGainIsTheDifferenceOfTheTwoTableRows) {
  const Suite s = load_suite(source_root() + "/suites/rdd/t1.yaml");
  PlanEnv env;
  env.tier = "paper";
  env.assume_datasets_present = true;
  env.cuda_available = true;
  const auto cells = plan_suite(s, env);
  const PlannedCell& idc = by_id(cells, "c10-idc-std");
  const PlannedCell& idc_r = by_id(cells, "c10-idc-rdd-std");
  const PlannedCell& clmin = by_id(cells, "c10-idc-gain-clmin");
  ASSERT_TRUE(clmin.derived) << clmin.reason;
  EXPECT_EQ(clmin.derived->operands[0].run.hash, idc_r.run->hash);
  EXPECT_EQ(clmin.derived->operands[1].run.hash, idc.run->hash);  // the IDC row: same job, stored once
  EXPECT_EQ(clmin.derived->operands[0].run.metric, "worst_group_accuracy@rdd-kmeans10");
  const PlannedCell& delta = by_id(cells, "c10-idc-gain-clmin-delta");
  ASSERT_TRUE(delta.derived) << delta.reason;
  ASSERT_EQ(delta.derived->operands.size(), 4u);
  // (wga(R) - wga(IDC)) - (acc(R) - acc(IDC)): four rows of the same two jobs.
  EXPECT_EQ(delta.derived->operands[2].run.metric, "accuracy");
  EXPECT_EQ(delta.derived->operands[2].run.hash, delta.derived->operands[0].run.hash);
  EXPECT_EQ(delta.derived->operands[3].run.hash, idc.run->hash);
  EXPECT_EQ(delta.derived->operands[2].coef, -1);
  EXPECT_EQ(delta.derived->operands[3].coef, 1);
}

TEST(DerivedMetrics, CommittedTrustddDeltasReuseTheTableRuns) {
  const Suite s = load_suite(source_root() + "/suites/trustdd/text.yaml");
  PlanEnv env;
  env.tier = "paper";
  env.assume_datasets_present = true;
  env.cuda_available = true;
  const auto cells = plan_suite(s, env);
  const PlannedCell& dd = by_id(cells, "fig2-dd-fpr95");
  const PlannedCell& trust = by_id(cells, "fig2-trustdd-fpr95");
  const PlannedCell& drop = by_id(cells, "text-fig2-fpr95-reduction");
  ASSERT_TRUE(drop.derived) << drop.reason;
  EXPECT_EQ(drop.derived->operands[0].run.hash, trust.run->hash);
  EXPECT_EQ(drop.derived->operands[1].run.hash, dd.run->hash);  // POE off = the DD cell's run
  EXPECT_EQ(drop.derived->operands[0].run.metric, "fpr95:msp@mean");
  // Energy vs MSP: one run, two score rows.
  const PlannedCell& energy = by_id(cells, "text-c10-energy-vs-msp-base-auroc-gain");
  ASSERT_TRUE(energy.derived) << energy.reason;
  EXPECT_EQ(energy.derived->operands[0].run.hash, energy.derived->operands[1].run.hash);
  EXPECT_NE(energy.derived->operands[0].run.metric, energy.derived->operands[1].run.metric);
}

TEST(DerivedMetrics, CommittedEdfRecoveryRatioDividesByTheFullRowOfTable3a) {
  const Suite t3a = load_suite(source_root() + "/suites/edf/t3a.yaml");
  const Suite t3b = load_suite(source_root() + "/suites/edf/t3b.yaml");
  PlanEnv env;
  env.tier = "paper";
  env.assume_datasets_present = true;
  env.cuda_available = true;
  const PlannedCell full = plan_cell(t3a, *t3a.find_cell("full-bird-easy"), env);
  const PlannedCell rr = plan_cell(t3b, *t3b.find_cell("edf-rr-bird-easy-ipc10"), env);
  ASSERT_TRUE(full.run) << full.reason;
  if (!rr.derived) GTEST_SKIP() << "edf not runnable here: " << rr.reason;
  EXPECT_EQ(rr.derived->rule, "ratio");
  EXPECT_EQ(rr.derived->operands[1].run.hash, full.run->hash);  // one full-data job for both tables
}

TEST(DerivedMetrics, RunAndCheckEndToEnd) {
  const auto dir = ddb::testing_support::temp_dir("derived-run");
  const Suite s = derived_suite(dir);
  const auto cells = plan_suite(s, tier_cpu());
  Store store((dir / "results").string());
  // Nothing stored yet: not run, never a value.
  const CellResult before = check_cell(by_id(cells, "gain"), store, "cpu");
  EXPECT_EQ(before.status, Status::NotRun);
  EXPECT_FALSE(before.mean);

  RunnerOptions ro;
  ro.quiet = true;
  const RunSummary sum = run_jobs(jobs_for(cells), store, ro);
  EXPECT_EQ(sum.succeeded, 4);
  EXPECT_EQ(sum.failed, 2);  // the ipc-3 run
  EXPECT_EQ(store.all_evaluations().size(), 6u);  // each job stored once

  const auto rs = check_cells(cells, store, "cpu");
  // ipc 1: 10, 11 per seed; ipc 2: 20, 21: paired per (seed, run) differences of -10.
  const CellResult& gain = result_of(rs, "gain");
  ASSERT_TRUE(gain.mean) << gain.reason;
  EXPECT_DOUBLE_EQ(*gain.mean, -10.0);
  EXPECT_DOUBLE_EQ(*gain.std, 0.0);
  EXPECT_EQ(gain.n, 4);
  EXPECT_EQ(gain.status, Status::Pass);  // banded against its reference like any cell
  ASSERT_EQ(gain.operands.size(), 2u);
  EXPECT_EQ(gain.operands[1].n, 4);
  EXPECT_DOUBLE_EQ(*gain.operands[1].mean, 20.5);
  EXPECT_EQ(gain.values.size(), 4u);
  EXPECT_NE(gain.derivation.find(gain.operands[1].config_hash), std::string::npos) << gain.derivation;

  EXPECT_DOUBLE_EQ(*result_of(rs, "auroc-gain").mean, -10.0);  // auroc(cell) - auroc(other)
  EXPECT_DOUBLE_EQ(*result_of(rs, "fpr95-drop").mean, -10.0);  // fpr95(other) 79.5 - fpr95(cell) 89.5
  EXPECT_DOUBLE_EQ(*result_of(rs, "accuracy-drop-from").mean, 10.0);  // accuracy(other) 20.5 - accuracy(cell) 10.5

  const CellResult& ratio = result_of(rs, "ratio");
  ASSERT_TRUE(ratio.mean) << ratio.reason;
  EXPECT_NEAR(*ratio.mean, 100.0 * 10.5 / 20.5, 1e-9);
  EXPECT_NEAR(*ratio.std, 100.0 * std::sqrt(std::pow(0.5 / 20.5, 2) + std::pow(10.5 * 0.5 / (20.5 * 20.5), 2)), 1e-9);

  // 4 values against 2: no pairs; difference of means, sqrt of the summed variances.
  const CellResult& unpaired = result_of(rs, "unpaired");
  ASSERT_TRUE(unpaired.mean) << unpaired.reason;
  EXPECT_DOUBLE_EQ(*unpaired.mean, -10.0);
  EXPECT_NEAR(*unpaired.std, std::sqrt(0.5), 1e-12);
  EXPECT_EQ(unpaired.n, 2);
  EXPECT_TRUE(unpaired.values.empty());

  // A failed operand fails the cell with the operand's reason.
  const CellResult& broken = result_of(rs, "broken-other");
  EXPECT_EQ(broken.status, Status::RunFailed);
  EXPECT_FALSE(broken.mean);
  EXPECT_NE(broken.reason.find("delta_from run"), std::string::npos) << broken.reason;
  EXPECT_NE(broken.reason.find("count: evaluation broke"), std::string::npos) << broken.reason;
}
