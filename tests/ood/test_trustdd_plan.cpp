// ddbench: torch-free
// TrustDD cells in the planner: the row a cell reads (metric, score, OOD set or the mean over eval.ood),
// and the rule that OE's auxiliary outliers never overlap a test OOD set.
#include <gtest/gtest.h>

#include "harness/plan.h"
#include "../unit/test_helpers.h"

using namespace ddb;

namespace {
Suite trustdd_suite(const std::string& cells) {
  return ddb::testing_support::suite_with("t.trustdd", R"(  dataset: toy28
  method: dsa
  ipc: 1
  distill_net: ConvNetW32
  options: {iterations: 1}
  eval: {protocol: trustdd, net: ConvNetW32, epochs: 2, runs: 1, ood: [gaussian-noise, uniform-noise]}
  seeds: 1
  metric: auroc
  paper: {value: 50}
)", cells);
}
PlanEnv cpu() { return ddb::testing_support::cpu_env(); }
}  // namespace

TEST(TrustddPlan, OeWhoseAuxiliarySetIsATestOodSetIsAClearError) {
  const Suite s = trustdd_suite(
      "  - {id: a, options: {iterations: 1, oe: true, oe_data: gaussian-noise}, ood: gaussian-noise}\n"
      "  - {id: b, options: {iterations: 1, oe: true, oe_data: toy32}, ood: gaussian-noise}\n");
  const PlannedCell a = plan_cell(s, s.cells[0], cpu());
  EXPECT_EQ(a.status, Status::Invalid);
  EXPECT_NE(a.reason.find("cell 'a'"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("'gaussian-noise' (option oe_data)"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("must not overlap"), std::string::npos) << a.reason;
  EXPECT_TRUE(status_info(a.status).is_failure);
  // A disjoint auxiliary set plans.
  const PlannedCell b = plan_cell(s, s.cells[1], cpu());
  EXPECT_EQ(b.status, Status::NotRun) << b.reason;
}

TEST(TrustddPlan, CellsReadTheRowOfTheirScoreAndSetOrTheMeanAndShareTheTrainedModels) {
  const Suite s = trustdd_suite(
      "  - {id: one, ood: gaussian-noise}\n"
      "  - {id: mean, ood: [uniform-noise, gaussian-noise], score: energy, metric: fpr95}\n"
      "  - {id: acc, metric: accuracy}\n"
      "  - {id: other, ood: textures}\n"
      "  - {id: part, ood: [gaussian-noise, textures]}\n"
      "  - {id: noset}\n"
      "  - {id: badscore, ood: gaussian-noise, score: odin}\n");
  const auto p = plan_suite(s, cpu());
  ASSERT_TRUE(p[0].run.has_value()) << p[0].reason;
  EXPECT_EQ(p[0].run->metric, "auroc:msp@gaussian-noise");
  ASSERT_TRUE(p[1].run.has_value()) << p[1].reason;
  EXPECT_EQ(p[1].run->metric, "fpr95:energy@mean");
  ASSERT_TRUE(p[2].run.has_value()) << p[2].reason;
  EXPECT_EQ(p[2].run->metric, "accuracy");
  // One trained model per seed serves every row: the same evaluation.
  EXPECT_EQ(p[0].run->eval_hash, p[1].run->eval_hash);
  EXPECT_EQ(p[0].run->eval_hash, p[2].run->eval_hash);
  for (int i : {3, 4, 5, 6}) {
    EXPECT_EQ(p[i].status, Status::Invalid) << s.cells[i].id << ": " << p[i].reason;
  }
  EXPECT_NE(p[3].reason.find("not among the sets eval.ood scores"), std::string::npos) << p[3].reason;
  EXPECT_NE(p[4].reason.find("mean over all of eval.ood"), std::string::npos) << p[4].reason;
  EXPECT_NE(p[5].reason.find("needs the OOD test set"), std::string::npos) << p[5].reason;
  EXPECT_NE(p[6].reason.find("unknown OOD score 'odin'"), std::string::npos) << p[6].reason;
}

TEST(TrustddPlan, WithoutEvalOodACellScoresItsOwnSets) {
  const auto dir = ddb::testing_support::temp_dir("trustdd-plan");
  const Suite s = load_suite(ddb::testing_support::write_file(dir / "s.yaml", R"(id: t.own
source: {paper: demo}
defaults: {dataset: toy28, method: dsa, ipc: 1, distill_net: ConvNetW32, options: {iterations: 1}, seeds: 1,
  eval: {protocol: trustdd, net: ConvNetW32, epochs: 2, runs: 1}, metric: aupr_in, paper: {value: 50}}
tiers: {cpu: {}}
cells:
  - {id: a, ood: uniform-noise}
  - {id: b, ood: [uniform-noise, gaussian-noise]}
)"));
  const auto p = plan_suite(s, cpu());
  ASSERT_TRUE(p[0].run && p[1].run) << p[0].reason << " / " << p[1].reason;
  EXPECT_EQ(p[0].run->metric, "aupr_in:msp@uniform-noise");
  EXPECT_EQ(p[1].run->metric, "aupr_in:msp@mean");
  EXPECT_NE(p[0].run->eval_hash, p[1].run->eval_hash);  // different sets scored: different evaluations
}
