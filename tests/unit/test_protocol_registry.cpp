// Evaluation protocols are registered units: a new protocol is one file like the toy one below (it
// needs no edit anywhere else), and what a protocol reports flows through runner, store and check.
#include <gtest/gtest.h>

#include "harness/check.h"
#include "harness/eval_protocol.h"
#include "harness/metrics.h"
#include "harness/runner.h"
#include "test_helpers.h"

using namespace ddb;

namespace {

// The toy protocol: "accuracy" = the share of synthetic labels equal to 0 (in percent), and its
// second evaluation run diverges, as a real training run might.
class ToyProtocol : public EvalProtocol {
 public:
  EvalRunResult run(const EvalContext& ctx) const override {
    if (ctx.phase.rfind("eval 2/", 0) == 0) throw Diverged("toy: training loss became nan at epoch 3");
    EvalRunResult r;
    r.accuracy = 100.0 * ctx.set.labels.eq(0).to(torch::kFloat).mean().item<double>();
    r.values = {{"accuracy", r.accuracy}, {"accuracy@upside-down", 100.0 - r.accuracy}};
    return r;
  }
};
DDBENCH_REGISTER_PROTOCOL(ProtocolInfo{"toy", "1", "test-only protocol", {"accuracy"},
                                       [] { return std::make_unique<ToyProtocol>(); }});

Suite toy_suite(const std::filesystem::path& dir, const std::string& extra = "") {
  return load_suite(ddb::testing_support::write_file(dir / "toy.yaml", R"(id: t.toy
source: {paper: demo}
defaults: {dataset: toy28, ipc: 1, distill_net: ConvNetW32, metric: accuracy, seeds: 1,
           eval: {protocol: toy, net: ConvNetW32, runs: 3}, paper: {value: 10}}
tiers: {cpu: {}}
cells:
  - {id: a, method: random)" + extra + R"(}
)"));
}

}  // namespace

TEST(ProtocolRegistry, RegisteredPlannedAndUnknownNames) {
  EXPECT_NE(find_protocol("dc"), nullptr);
  EXPECT_NE(find_protocol("mtt"), nullptr);
  EXPECT_NE(find_protocol("toy"), nullptr);
  EXPECT_TRUE(find_protocol("toy")->produces("accuracy@upside-down"));
  EXPECT_FALSE(find_protocol("toy")->produces("auroc"));
  EXPECT_NE(find_protocol("trustdd"), nullptr);
  EXPECT_TRUE(find_protocol("trustdd")->produces("auroc:energy@textures"));
  EXPECT_TRUE(protocol_registry().is_planned("transfer_finetune"));
  EXPECT_FALSE(protocol_registry().is_planned("kip"));  // registered now: the registry wins
  try {
    protocol_registry().get("nope");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("dc, dd, idc, kd, kip, ld, mtt"), std::string::npos) << e.what();
  }
}

TEST(MetricRegistry, DirectionUnitAndKind) {
  ASSERT_NE(find_metric("accuracy"), nullptr);
  EXPECT_TRUE(find_metric("accuracy")->higher_is_better);
  EXPECT_EQ(find_metric("accuracy")->aggregate, "mean");
  ASSERT_NE(find_metric("unequalness"), nullptr);  // a set metric, in the same registry
  EXPECT_EQ(find_metric("unequalness")->kind, "set");
  EXPECT_FALSE(find_metric("unequalness")->higher_is_better);
  ASSERT_NE(find_metric("fpr95"), nullptr);  // registered by the OOD metrics (trustdd protocol)
  EXPECT_FALSE(find_metric("fpr95")->higher_is_better);
  ASSERT_NE(find_metric("accuracy_drop"), nullptr);  // registered with the shifted test sets
  EXPECT_FALSE(find_metric("accuracy_drop")->higher_is_better);
  EXPECT_EQ(find_metric("time_s"), nullptr);  // planned: data, with its direction
  EXPECT_EQ(metric_higher_is_better("time_s"), std::optional<bool>(false));
  EXPECT_EQ(metric_base("fpr95:energy@mean"), "fpr95");
  EXPECT_FALSE(metric_higher_is_better("no-such-metric").has_value());
}

// Defect: a diverged evaluation run was dropped from the mean. The runner records it and goes on;
// check says "n = 2 of 3, 1 diverged" and fails the cell unless the cell allows failed runs.
TEST(ProtocolRegistry, ToyProtocolRunsThroughRunnerStoreAndCheck) {
  const auto dir = ddb::testing_support::temp_dir("toyproto");
  const Suite s = toy_suite(dir);
  PlanEnv env;
  env.tier = "cpu";
  const auto cells = plan_suite(s, env);
  ASSERT_TRUE(cells[0].runnable()) << cells[0].reason;
  Store store((dir / "results").string());
  RunnerOptions ro;
  ro.quiet = true;
  const RunSummary sum = run_jobs(jobs_for(cells), store, ro);
  EXPECT_EQ(sum.succeeded, 1);
  const auto runs = store.all_evaluations();
  ASSERT_EQ(runs.size(), 1u);
  const auto rows = store.metrics_of(runs[0].key);
  EXPECT_EQ(rows.size(), 4u);  // 2 runs x (accuracy, accuracy@upside-down)
  CellResult r = check_cell(cells[0], store, "cpu");
  EXPECT_EQ(r.status, Status::RunFailed);
  EXPECT_EQ(r.n, 2);
  EXPECT_NE(r.reason.find("n = 2 of 3, 1 diverged"), std::string::npos) << r.reason;

  const Suite allowed = toy_suite(dir / "allowed", ", allow_failed_runs: true");
  const auto cells2 = plan_suite(allowed, env);
  r = check_cell(cells2[0], store, "cpu");  // same configuration, same stored job
  EXPECT_EQ(r.status, Status::Unchecked);    // no committed reference: ran, nothing to compare
  EXPECT_EQ(r.n, 2);
}
