#include <gtest/gtest.h>

#include "harness/plan.h"
#include "test_helpers.h"

using namespace ddb;

namespace {
Suite suite_from(const std::string& cells) {
  const auto dir = ddb::testing_support::temp_dir("plan");
  const std::string text = std::string(R"(id: t.plan
source: {paper: demo}
defaults:
  dataset: toy28
  ipc: 1
  distill_net: ConvNetW32
  eval: {protocol: dc, net: ConvNetW32, epochs: 2, runs: 1}
  seeds: 2
  metric: accuracy
  paper: {value: 50}
tiers:
  cpu: {}
cells:
)") + cells;
  return load_suite(ddb::testing_support::write_file(dir / "s.yaml", text));
}
PlanEnv cpu() {
  PlanEnv e;
  e.tier = "cpu";
  return e;
}
}  // namespace

TEST(Plan, SeedsAreDerivedFromTheConfigurationNotTheClock) {
  EXPECT_EQ(derive_seed("abc", 0), derive_seed("abc", 0));
  EXPECT_NE(derive_seed("abc", 0), derive_seed("abc", 1));
  EXPECT_NE(derive_seed("abc", 0), derive_seed("abd", 0));
}

TEST(Plan, EqualConfigurationsShareJobs) {
  const Suite s = suite_from(R"(  - {id: a, method: random}
  - {id: b, method: random, metric: accuracy}
  - {id: c, method: random, ipc: 2}
)");
  const auto cells = plan_suite(s, cpu());
  ASSERT_TRUE(cells[0].run && cells[1].run && cells[2].run);
  EXPECT_EQ(cells[0].run->hash, cells[1].run->hash);
  EXPECT_NE(cells[0].run->hash, cells[2].run->hash);
  EXPECT_EQ(jobs_for(cells).size(), 4u);  // 2 configurations x 2 seeds
}

TEST(Plan, CellsThatCannotRunSayWhy) {
  const Suite s = suite_from(R"(  - {id: m, method: cafe}
  - {id: d, method: random, dataset: cifar10}
  - {id: g, method: random, requires: [gpu]}
  - {id: p, method: random, requires: ["pretrained:stylegan-xl"]}
  - {id: o, method: random, metric: fpr95}
  - {id: x, method: dm, options: {lambda_oe: 0.5}}
  - {id: n, method: random, eval: {net: ViT}}
)");
  PlanEnv env = cpu();
  env.data.data_root = "/nonexistent-ddbench-data";
  const auto cells = plan_suite(s, env);
  EXPECT_EQ(cells[0].status, Status::Unimplemented);
  EXPECT_EQ(cells[0].reason, "method cafe");
  EXPECT_EQ(cells[1].status, Status::DatasetMissing);
  EXPECT_NE(cells[1].reason.find("/nonexistent-ddbench-data"), std::string::npos) << cells[1].reason;
  EXPECT_EQ(cells[2].status, Status::NeedsGpu);
  EXPECT_EQ(cells[3].status, Status::NeedsPretrained);
  EXPECT_EQ(cells[4].status, Status::Unimplemented);
  EXPECT_EQ(cells[5].status, Status::Unimplemented);
  EXPECT_NE(cells[5].reason.find("lambda_oe"), std::string::npos) << cells[5].reason;
  EXPECT_EQ(cells[6].status, Status::Unimplemented);
  for (const auto& c : cells) EXPECT_FALSE(c.run.has_value());
}

TEST(Plan, PaperTierNeedsAGpuUnlessAllowed) {
  const Suite s = suite_from("  - {id: a, method: random}\n");
  PlanEnv env;
  env.tier = "paper";
  EXPECT_EQ(plan_cell(s, s.cells[0], env).status, Status::NeedsGpu);
  env.allow_paper_on_cpu = true;
  EXPECT_TRUE(plan_cell(s, s.cells[0], env).run.has_value());
  env.tier = "tiny";  // a tier the suite has no profile for
  EXPECT_EQ(plan_cell(s, s.cells[0], env).status, Status::NeedsGpu);
}
