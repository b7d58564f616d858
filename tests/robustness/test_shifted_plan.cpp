// ddbench: torch-free
// Shifted-test cells in the planner: the row a cell reads (metric@set), one shared evaluation per table,
// clear errors for a metric the set cannot give, and what stays unimplemented.
#include <gtest/gtest.h>

#include "../unit/test_helpers.h"
#include "harness/plan.h"

using namespace ddb;

namespace {
Suite shifted_suite(const std::string& eval, const std::string& cells) {
  return ddb::testing_support::suite_with("t.shifted", R"(  dataset: toy28
  method: dm
  ipc: 1
  distill_net: ConvNetW32
  options: {iterations: 1}
  eval: )" + eval + R"(
  seeds: 1
  metric: accuracy
  paper: {value: 50}
)", cells);
}
PlanEnv cpu() { return ddb::testing_support::cpu_env(); }
const std::string kAllSets =
    "{protocol: dc, net: ConvNetW32, epochs: 2, runs: 1, ood: [rdd-kmeans10, rdd-noise, rdd-blur, rdd-invert]}";
}  // namespace

TEST(ShiftedPlan, CellsReadTheirSetsRowAndShareOneEvaluation) {
  const Suite s = shifted_suite(kAllSets,
                                "  - {id: std}\n"
                                "  - {id: noise, ood: rdd-noise}\n"
                                "  - {id: blurdrop, metric: accuracy_drop, ood: rdd-blur}\n"
                                "  - {id: clmin, metric: worst_group_accuracy, ood: rdd-kmeans10}\n"
                                "  - {id: clmindrop, metric: accuracy_drop, ood: rdd-kmeans10}\n");
  const auto p = plan_suite(s, cpu());
  const char* const rows[] = {"accuracy", "accuracy@rdd-noise", "accuracy_drop@rdd-blur",
                              "worst_group_accuracy@rdd-kmeans10", "accuracy_drop@rdd-kmeans10"};
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(p[i].run.has_value()) << s.cells[i].id << ": " << p[i].reason;
    EXPECT_EQ(p[i].status, Status::NotRun) << s.cells[i].id << ": " << p[i].reason;  // generated: no files
    EXPECT_EQ(p[i].run->metric, rows[i]);
    EXPECT_EQ(p[i].run->eval_hash, p[0].run->eval_hash) << s.cells[i].id;
  }
  EXPECT_EQ(jobs_for(p).size(), 1u);  // one distillation and evaluation serve the table
}

TEST(ShiftedPlan, WrongMetricOrSetIsAClearError) {
  const Suite s = shifted_suite(kAllSets,
                                "  - {id: wga-noise, metric: worst_group_accuracy, ood: rdd-noise}\n"
                                "  - {id: acc-grouping, ood: rdd-kmeans10}\n"
                                "  - {id: two, ood: [rdd-noise, rdd-blur]}\n"
                                "  - {id: unlisted, eval: {ood: [rdd-noise]}, ood: rdd-blur}\n");
  const auto p = plan_suite(s, cpu());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(p[i].status, Status::Invalid) << s.cells[i].id << ": " << p[i].reason;
  EXPECT_NE(p[0].reason.find("worst_group_accuracy needs a grouping of the test split (rdd-kmeans10)"), std::string::npos)
      << p[0].reason;
  EXPECT_NE(p[1].reason.find("use worst_group_accuracy or accuracy_drop"), std::string::npos) << p[1].reason;
  EXPECT_NE(p[2].reason.find("one shifted test set per cell"), std::string::npos) << p[2].reason;
  EXPECT_NE(p[3].reason.find("'rdd-blur' is not among the sets eval.ood scores (rdd-noise)"), std::string::npos)
      << p[3].reason;
}

TEST(ShiftedPlan, WithoutEvalOodACellScoresItsOwnSet) {
  const Suite s = shifted_suite("{protocol: dc, net: ConvNetW32, epochs: 2, runs: 1}",
                                "  - {id: noise, ood: rdd-noise}\n"
                                "  - {id: plain}\n");
  const auto p = plan_suite(s, cpu());
  ASSERT_TRUE(p[0].run.has_value()) << p[0].reason;
  EXPECT_EQ(p[0].status, Status::NotRun) << p[0].reason;
  EXPECT_EQ(p[0].run->metric, "accuracy@rdd-noise");
  EXPECT_EQ(p[0].run->config["eval"]["ood"], nlohmann::json::array({"rdd-noise"}));
  // A cell without sets keeps the configuration (and hash) it had before shifted sets existed.
  ASSERT_TRUE(p[1].run.has_value());
  EXPECT_FALSE(p[1].run->config["eval"].contains("ood"));
  EXPECT_NE(p[0].run->eval_hash, p[1].run->eval_hash);
}

TEST(ShiftedPlan, WhatNoProtocolScoresStaysUnimplemented) {
  const Suite s = shifted_suite(kAllSets,
                                "  - {id: metashift-like, metric: worst_group_accuracy}\n"
                                "  - {id: ood-with-dc, ood: textures, eval: {ood: [textures]}}\n"
                                "  - {id: trustdd-shift, eval: {protocol: trustdd, ood: [rdd-noise]}, ood: rdd-noise}\n");
  const auto p = plan_suite(s, cpu());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(p[i].status, Status::Unimplemented) << s.cells[i].id << ": " << p[i].reason;
  EXPECT_NE(p[0].reason.find("without a generated shifted test set"), std::string::npos) << p[0].reason;
  EXPECT_NE(p[1].reason.find("test set textures (role ood) with eval protocol dc"), std::string::npos) << p[1].reason;
  EXPECT_NE(p[2].reason.find("shifted test set rdd-noise with eval protocol trustdd"), std::string::npos) << p[2].reason;
}
